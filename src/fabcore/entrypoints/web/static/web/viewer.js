// The 3D viewer: every canvas.viewer shows the model at its data-model-url.
import * as THREE from "three";
import { STLLoader } from "three/addons/loaders/STLLoader.js";
import { ThreeMFLoader } from "three/addons/loaders/3MFLoader.js";
import { OBJLoader } from "three/addons/loaders/OBJLoader.js";
import { OrbitControls } from "three/addons/controls/OrbitControls.js";

const MATERIAL = new THREE.MeshStandardMaterial({ color: 0x4f7cac, metalness: 0.1, roughness: 0.6 });
// Each shown canvas holds a WebGL context; browsers keep only a few, so a canvas
// that an htmx swap took out of the page gives its context back.
const shown = new Map();

function parse(name, data) {
  const lower = name.toLowerCase();
  if (lower.endsWith(".3mf")) {
    return new ThreeMFLoader().parse(data);
  }
  if (lower.endsWith(".obj")) {
    return new OBJLoader().parse(new TextDecoder().decode(data));
  }
  if (lower.endsWith(".stl")) {
    return new THREE.Mesh(new STLLoader().parse(data), MATERIAL);
  }
  return null;
}

function paint(object) {
  object.traverse((child) => {
    if (child.isMesh) {
      child.material = MATERIAL;
    }
  });
}

function show(canvas, object) {
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
  renderer.setPixelRatio(window.devicePixelRatio || 1);
  renderer.setSize(canvas.clientWidth || canvas.width, canvas.clientHeight || canvas.height, false);
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(0xf4f6f8);
  paint(object);
  const box = new THREE.Box3().setFromObject(object);
  const center = box.getCenter(new THREE.Vector3());
  const radius = box.getBoundingSphere(new THREE.Sphere()).radius || 1;
  object.position.sub(center);
  scene.add(object);
  scene.add(new THREE.HemisphereLight(0xffffff, 0x667788, 2.2));
  const light = new THREE.DirectionalLight(0xffffff, 1.5);
  light.position.set(1, 2, 3);
  scene.add(light);
  const camera = new THREE.PerspectiveCamera(40, canvas.width / canvas.height, radius / 100, radius * 100);
  camera.position.set(radius * 1.6, -radius * 2.2, radius * 1.5);
  camera.up.set(0, 0, 1);
  camera.lookAt(0, 0, 0);
  const controls = new OrbitControls(camera, canvas);
  controls.listenToKeyEvents(canvas);
  const render = () => renderer.render(scene, camera);
  controls.addEventListener("change", render);
  render();
  shown.set(canvas, { renderer, controls });
  canvas.dataset.ready = "true";
}

async function load(canvas) {
  canvas.dataset.loading = "true";
  canvas.tabIndex = 0;
  try {
    const headers = window.fabcoreAuthHeaders ? window.fabcoreAuthHeaders() : {};
    const answer = await fetch(canvas.dataset.modelUrl, { headers, credentials: "same-origin" });
    if (!answer.ok) {
      throw new Error(`HTTP ${answer.status}`);
    }
    const object = parse(canvas.dataset.filename || "", await answer.arrayBuffer());
    if (object === null) {
      canvas.dataset.ready = "unsupported";
      canvas.setAttribute("aria-label", `${canvas.dataset.filename}: no preview for this file type`);
      return;
    }
    show(canvas, object);
  } catch (error) {
    canvas.dataset.ready = "failed";
    canvas.setAttribute("aria-label", `${canvas.dataset.filename}: the preview failed`);
  }
}

function release() {
  shown.forEach((held, canvas) => {
    if (!canvas.isConnected) {
      held.controls.dispose();
      held.renderer.dispose();
      held.renderer.forceContextLoss();
      shown.delete(canvas);
    }
  });
}

function scan() {
  release();
  document.querySelectorAll("canvas.viewer:not([data-loading])").forEach(load);
}

document.addEventListener("htmx:afterSettle", scan);
scan();

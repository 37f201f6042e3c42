"""Use cases that build an order: models, lines, shipping, billing, and staff's firm prices.

A customer edits their own drafts; staff edit drafts (IQT) and orders in
review, where they also set firm prices and one-off fees.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, overload

import attrs

from fabcore.app.context import current_request_id
from fabcore.app.pauses import pause
from fabcore.app.runner import Runner, key_id, log
from fabcore.domain import access, checks
from fabcore.domain.actor import Actor
from fabcore.domain.analysis import AnalysisRequest, AnalysisState, ModelAnalysis, Units
from fabcore.domain.customer import Address
from fabcore.domain.errors import (
    AlreadyExists,
    InvalidInput,
    ModelRejected,
    NotFound,
    PermissionDenied,
)
from fabcore.domain.money import Money
from fabcore.domain.order import Order, OrderLine, Shipping
from fabcore.domain.pricing import options_for, price_line
from fabcore.domain.quote import Fee, LineQuote, LineSpec
from fabcore.domain.shop import ShopContext
from fabcore.ports.jobs import ANALYSIS_QUEUE
from fabcore.ports.model_store import ModelRef, StagedModel
from fabcore.ports.repositories import UnitOfWork

# Bytes read at a time while hashing an uploaded file.
_HASH_CHUNK = 1 << 20


@attrs.frozen
class UploadedModel:
    """A stored model file and what the analyser measured of it."""

    ref: ModelRef
    analysis: ModelAnalysis


@attrs.frozen
class PendingModel:
    """A stored model file whose analysis a worker has yet to finish (or refused).

    ``waiting`` is how many analyses wait in the queue, this one included
    while it has not started.
    """

    ref: ModelRef
    request: AnalysisRequest
    waiting: int = 0


def _other_digest(filename: str, sha256: str) -> InvalidInput:
    return InvalidInput(f"{filename}: the file's content does not have the sha256 given "
                        f"for it ({sha256[:12]}...); nothing was stored")


def _drop(staged: Future[StagedModel]) -> None:
    """Drop a file staged beside an analysis that failed, once it is written.

    The analysis's error is what the caller gets: an error of the staging
    itself (nothing was staged) gives way to it.
    """
    try:
        model = staged.result()
    except Exception:
        return
    model.drop()


def _units(value: Units | str) -> Units:
    if isinstance(value, Units):
        return value
    try:
        return Units(value)
    except ValueError:
        raise InvalidInput(
            f"units must be one of {', '.join(u.value for u in Units)}, not {value!r}"
        ) from None


class Drafting(Runner):
    __slots__ = ()

    def upload_model(
        self, actor: Actor, data: bytes, filename: str, units: Units | str = Units.MM
    ) -> UploadedModel:
        """Analyse an uploaded file and keep it (rejected files are not kept).

        Files are kept by content: the same bytes uploaded again (by anyone,
        under any name) reuse the analysis made the first time in these units.
        """
        unit = _units(units)
        sha256 = hashlib.sha256(data).hexdigest()
        known = self._known(actor, sha256, unit)
        if known is not None:
            return UploadedModel(ModelRef(sha256, filename, len(data)),
                                 attrs.evolve(known, filename=filename))
        return self._analyse_and_keep(data, filename, unit)

    @overload
    def upload_model_file(
        self, actor: Actor, file: IO[bytes], filename: str, units: Units | str = ...,
        *, defer_from: None = None, sha256: str | None = None,
    ) -> UploadedModel: ...

    @overload
    def upload_model_file(
        self, actor: Actor, file: IO[bytes], filename: str, units: Units | str = ...,
        *, defer_from: int, sha256: str | None = None,
    ) -> UploadedModel | PendingModel: ...

    def upload_model_file(
        self, actor: Actor, file: IO[bytes], filename: str, units: Units | str = Units.MM,
        *, defer_from: int | None = None, sha256: str | None = None,
    ) -> UploadedModel | PendingModel:
        """:meth:`upload_model` for a seekable file open for reading, from its current position.

        The file is read in chunks to find its content hash, and whole only
        when it has not been analysed in these units before. A caller that
        hashed the file already (a web front, while receiving it) gives its
        ``sha256`` and the file is not read for it; a file that turns out
        to have another digest is refused (``InvalidInput``) and not stored.
        A file of ``defer_from`` bytes or more is analysed by a worker when
        the job queue has workers (``jobs.analyses_elsewhere``): it is
        stored, and the answer is a :class:`PendingModel` (see
        :meth:`analysis_status`); an upload of a file rejected that way
        before is refused again.
        """
        unit = _units(units)
        start = file.tell()
        given = sha256 is not None
        if sha256 is None:
            digest = hashlib.sha256()
            size = 0
            while chunk := file.read(_HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
            sha256 = digest.hexdigest()
        else:
            sha256 = checks.sha256(sha256)
            size = file.seek(0, io.SEEK_END) - start
        known = self._known(actor, sha256, unit)
        if known is not None:
            return UploadedModel(ModelRef(sha256, filename, size),
                                 attrs.evolve(known, filename=filename))
        file.seek(start)
        data = file.read()
        if defer_from is not None and size >= defer_from and self.jobs.analyses_elsewhere:
            if given and hashlib.sha256(data).hexdigest() != sha256:
                raise _other_digest(filename, sha256)
            return self._defer_analysis(data, sha256, filename, unit)
        return self._analyse_and_keep(data, filename, unit, sha256 if given else None)

    def _defer_analysis(self, data: bytes, sha256: str, filename: str,
                        unit: Units) -> PendingModel:
        with self.uow() as uow:
            request = uow.analyses.request(sha256, unit.value)
        if request is not None and request.state is AnalysisState.REJECTED:
            raise ModelRejected(request.filename, request.reason or "the file was refused")
        ref = self.models.put(data, filename)
        if request is None or request.state is AnalysisState.DONE:
            request = AnalysisRequest(sha256, unit, filename, len(data), self.clock.now(),
                                      request_id=current_request_id())
            with self.uow() as uow:
                uow.analyses.save_request(request)
                uow.commit()
        # Deferred again when the same file comes back while it waits: a job
        # lost with an unreachable queue is made good, and a second one finds
        # the work done.
        self.jobs.analyse_model(sha256, unit.value, current_request_id())
        return PendingModel(ref, request, self.jobs.waiting().get(ANALYSIS_QUEUE, 0))

    def analyse_requested(self, sha256: str, units: str) -> AnalysisRequest:
        """The job of a large upload: analyse the stored file and record the outcome.

        Idempotent: a request already finished is returned as it is; one a
        dead worker left half-way is analysed again (``attempts`` counts the
        starts). A refusal is recorded with its reason, not raised.
        """
        unit = _units(units)
        with self.uow() as uow:
            request = uow.analyses.request(sha256, unit.value)
            if request is None:
                raise NotFound(f"no analysis requested for model {sha256[:12]} in {unit.value}")
            if request.state.finished:
                if request.state is AnalysisState.REJECTED:
                    # Again, for a worker that died between the refusal and the deletion.
                    self._drop_rejected(sha256, unit)
                return request
            request.state = AnalysisState.ANALYSING
            request.attempts += 1
            request.started_at = self.clock.now()
            uow.analyses.save_request(request)
            uow.commit()
        pause("analysis.before", request.attempts)
        try:
            analysis = self._analyse(self.models.get(sha256), request.filename, unit)
        except ModelRejected as exc:
            request.state = AnalysisState.REJECTED
            request.reason = exc.reason
        else:
            request.state = AnalysisState.DONE
        request.finished_at = self.clock.now()
        with self.uow() as uow:
            if request.state is AnalysisState.DONE:
                uow.analyses.add(sha256, unit.value, analysis)
            uow.analyses.save_request(request)
            uow.commit()
        if request.state is AnalysisState.REJECTED:
            self._drop_rejected(sha256, unit)
        return request

    def _drop_rejected(self, sha256: str, unit: Units) -> None:
        """Delete the stored file of a refused upload, unless another analysis needs it.

        The refusal is committed first, so an upload of the same bytes in
        these units is refused from then on and never relies on the file.
        """
        with self.uow() as uow:
            needed = uow.analyses.in_use(sha256, unit.value)
        if not needed:
            self.models.delete(sha256)
            log.info("refused model deleted", extra={"sha256": sha256, "units": unit.value})

    def analysis_status(
        self, actor: Actor, sha256: str, filename: str, units: Units | str = Units.MM
    ) -> UploadedModel | PendingModel:
        """Where an upload's analysis stands: the model when analysed, else its request.

        ``NotFound`` when the file was neither analysed nor requested in these units.
        """
        unit = _units(units)
        with self.uow() as uow:
            uow.shops.get(actor.shop_id)
            # The request first: a worker commits it as done with the analysis, so
            # a request read as done always finds its analysis in the next read.
            request = uow.analyses.request(sha256, unit.value)
            known = uow.analyses.get(sha256, unit.value)
        if known is not None and self.models.exists(sha256):
            return UploadedModel(ModelRef(sha256, filename, self.models.size(sha256)),
                                 attrs.evolve(known, filename=filename))
        if request is None:
            raise NotFound(f"no model {sha256[:12]} uploaded in {unit.value}")
        waiting = (self.jobs.waiting().get(ANALYSIS_QUEUE, 0)
                   if request.state is AnalysisState.PENDING else 0)
        return PendingModel(ModelRef(sha256, filename, request.size), request, waiting)

    def _analyse(self, data: bytes, filename: str, unit: Units) -> ModelAnalysis:
        started = time.perf_counter()
        analysis = self.analyser.analyse(data, filename, unit)
        self.metrics.model_analysed(analysis.format, time.perf_counter() - started)
        return analysis

    def _known(self, actor: Actor, sha256: str, unit: Units) -> ModelAnalysis | None:
        """The stored analysis of a file kept before (None when either is missing)."""
        with self.uow() as uow:
            uow.shops.get(actor.shop_id)
            known = uow.analyses.get(sha256, unit.value)
        return known if known is not None and self.models.exists(sha256) else None

    def _analyse_and_keep(self, data: bytes, filename: str, unit: Units,
                          sha256: str | None = None) -> UploadedModel:
        # The file is written (and synced) beside its analysis, and kept only
        # once the analysis accepts it: a refused file is never stored.
        with ThreadPoolExecutor(1, thread_name_prefix="fabcore-stage") as staging:
            staged = staging.submit(self.models.stage, io.BytesIO(data), filename)
            try:
                analysis = self._analyse(data, filename, unit)
            except BaseException:
                _drop(staged)
                raise
            with staged.result() as model:
                if sha256 is not None and model.ref.sha256 != sha256:
                    raise _other_digest(filename, sha256)
                ref = model.keep()
        with self.uow() as uow:
            uow.analyses.add(ref.sha256, unit.value, analysis)
            uow.commit()
        return UploadedModel(ref, analysis)

    def stored_model(
        self, actor: Actor, sha256: str, filename: str, units: Units | str = Units.MM
    ) -> UploadedModel:
        """A model uploaded before, by its sha256 (``NotFound`` unless uploaded in these units)."""
        unit = _units(units)
        with self.uow() as uow:
            uow.shops.get(actor.shop_id)
            known = uow.analyses.get(sha256, unit.value)
        if known is None or not self.models.exists(sha256):
            raise NotFound(f"no model {sha256[:12]} analysed in {unit.value}: upload it first")
        return UploadedModel(ModelRef(sha256, filename, self.models.size(sha256)),
                             attrs.evolve(known, filename=filename))

    def quote_options(
        self, actor: Actor, sha256: str, units: Units | str = Units.MM, quantity: int = 1
    ) -> Sequence[LineQuote]:
        """Everything an uploaded model can be made of in the shop, cheapest first.

        Options that need review come last, with their reasons. ``NotFound``
        unless the model was uploaded in these units. Worked out once per
        catalog, model, units and quantity in this process (see
        :mod:`fabcore.app.options_cache`).
        """
        unit = _units(units)
        key = (sha256, unit.value, quantity)
        with self.uow() as uow:
            catalog = uow.shops.catalog(actor.shop_id)
            found = self.options.get(catalog, key)
            if found is not None:
                return found
            analysis = uow.analyses.get(sha256, unit.value)
        if analysis is None or not self.models.exists(sha256):
            raise NotFound(f"no model {sha256[:12]} analysed in {unit.value}: upload it first")
        options = tuple(options_for(catalog, attrs.evolve(analysis, filename=""), quantity))
        self.options.put(catalog, key, options)
        return options

    def create_order(
        self, actor: Actor, customer_id: str | None = None, *, key: str | None = None
    ) -> Order:
        """Start a draft: a customer for themselves, staff for any customer (IQT) or none yet.

        With an idempotency ``key`` (the client's, one per draft it means to
        start), the same actor asking again with the same key gets the draft
        the first call made, however often it retries.
        """
        access.require_signed_in(actor, "start an order")
        if actor.is_customer:
            if customer_id not in (None, actor.id):
                raise PermissionDenied(f"{actor} cannot create orders for another customer")
            customer_id = actor.id
        order_id = (key_id("order", actor.shop_id, actor.kind.value, actor.id, key)
                    if key is not None else self.new_id())
        if key is not None:
            with self.uow() as uow:
                try:
                    return self._order_for(uow, actor, order_id)
                except NotFound:
                    pass
        try:
            return self._new_order(actor, customer_id, order_id)
        except AlreadyExists:
            if key is None:
                raise
        # Another call with the same key created it meanwhile.
        with self.uow() as uow:
            return self._order_for(uow, actor, order_id)

    def _new_order(self, actor: Actor, customer_id: str | None, order_id: str) -> Order:
        with self.uow() as uow:
            shop = self._shop(uow, actor.shop_id)
            customer = self._customer_for(uow, actor, customer_id) if customer_id else None
            order = Order(
                id=order_id,
                shop_id=shop.shop.id,
                number=uow.orders.next_number(shop.shop.id),
                currency=shop.catalog.currency,
                created_at=self.clock.now(),
                customer_id=customer_id,
                billing_address=customer.billing_address if customer else None,
            )
            uow.orders.add(order)
            uow.commit()
        return order

    def add_line(
        self,
        actor: Actor,
        order_id: str,
        model: UploadedModel,
        spec: LineSpec,
        notes: str = "",
        *,
        key: str | None = None,
    ) -> OrderLine:
        """Add a part to the order, priced instantly from the shop's catalog.

        With an idempotency ``key``, asking again with the same key returns
        the line the first call added instead of adding another.
        """
        if not self.models.exists(model.ref.sha256):
            raise NotFound(f"model {model.ref.filename} ({model.ref.sha256[:12]}) is not stored")
        line_id = key_id("line", order_id, key) if key is not None else self.new_id()

        def change(_: UnitOfWork, order: Order, shop: ShopContext) -> OrderLine:
            for existing in order.lines:
                if existing.id == line_id:
                    return existing
            quote = price_line(shop.catalog, model.analysis, spec)
            line = OrderLine(
                id=line_id, model_sha256=model.ref.sha256,
                model_filename=model.ref.filename, analysis=model.analysis,
                spec=quote.spec, notes=notes, quote=quote,
            )
            order.set_line(line)
            return line

        return self._edit(actor, order_id, change)

    def update_line(
        self,
        actor: Actor,
        order_id: str,
        line_id: str,
        *,
        spec: LineSpec | None = None,
        notes: str | None = None,
    ) -> OrderLine:
        """Change what was picked for a part (re-priced) or its notes."""

        def change(_: UnitOfWork, order: Order, shop: ShopContext) -> OrderLine:
            line = order.line(line_id)
            if spec is not None:
                quote = price_line(shop.catalog, line.analysis, spec)
                line = attrs.evolve(line, spec=quote.spec, quote=quote)
            if notes is not None:
                line = attrs.evolve(line, notes=notes)
            order.set_line(line)
            return line

        return self._edit(actor, order_id, change)

    def remove_line(self, actor: Actor, order_id: str, line_id: str) -> None:
        self._edit(actor, order_id, lambda _, order, __: order.remove_line(line_id))

    def set_shipping(
        self, actor: Actor, order_id: str, method: str, address: Address | None = None
    ) -> None:
        """Choose a shipping method (pickup needs no address, the others do)."""

        def change(_: UnitOfWork, order: Order, shop: ShopContext) -> None:
            chosen = shop.catalog.shipping_method(method)
            if not chosen.pickup and address is None:
                raise InvalidInput(f"shipping by {chosen.label} needs a delivery address")
            order.set_shipping(Shipping(method, None if chosen.pickup else address))

        self._edit(actor, order_id, change)

    def set_billing_address(self, actor: Actor, order_id: str, address: Address) -> None:
        self._edit(actor, order_id, lambda _, order, __: order.set_billing_address(address))

    def set_customer(self, actor: Actor, order_id: str, customer_id: str) -> None:
        """Staff choose the end customer of an IQT draft."""
        access.require_staff(actor, "choose the customer of an order")

        def change(uow: UnitOfWork, order: Order, _: ShopContext) -> None:
            customer = self._customer_for(uow, actor, customer_id)
            order.set_customer(customer.id)
            if order.billing_address is None:
                order.set_billing_address(customer.billing_address)

        self._edit(actor, order_id, change)

    def set_firm_price(
        self,
        actor: Actor,
        order_id: str,
        line_id: str,
        unit_price: Money | None,
        fees: Sequence[Fee] = (),
    ) -> None:
        """Staff set the price of a line in review (``None`` returns to the instant price)."""
        access.require_staff(actor, "set firm prices")
        self._edit(
            actor, order_id,
            lambda _, order, __: order.set_firm_price(line_id, unit_price, fees),
        )

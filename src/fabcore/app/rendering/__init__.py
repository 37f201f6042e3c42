"""Rendering for people: e-mails, invoices (text, HTML, PDF) and terminal reports."""

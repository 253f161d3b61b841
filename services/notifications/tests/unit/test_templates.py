"""Shipped templates, locale formatting, escaping and the checks made on save."""

from __future__ import annotations

import pytest
from jinja2 import TemplateError

from notifications.templates.context import template_context
from notifications.templates.engine import (
    BLOCKS,
    MissingData,
    check,
    compile_source,
    render,
    shipped_source,
)
from notifications.templates.sample import sample_request

STEPS = ("courtesy", "reminder", "firm_reminder", "call", "demand", "final_notice", "agency")


@pytest.mark.parametrize("locale", ["en", "de"])
@pytest.mark.parametrize("channel", list(BLOCKS))
@pytest.mark.parametrize("step", STEPS)
def test_every_shipped_template_renders_every_block(step: str, channel: str, locale: str) -> None:
    source = shipped_source(step, channel, locale)
    assert source is not None
    data = template_context(sample_request({"locale": locale}), creditor_name="Creditor AG")
    rendered = render(compile_source(source), channel, data, locale=locale)
    assert all(rendered[block] for block in BLOCKS[channel])
    assert "Creditor AG" in " ".join(rendered.parts.values()) or channel == "email"


def test_amounts_and_dates_follow_the_locale() -> None:
    source = "{% block text %}{{ total_due|money }} / {{ pay_by|date }}{% endblock %}"
    template = compile_source(source)
    english = template_context(sample_request({"locale": "en"}), creditor_name="C")
    assert render(template, "sms", english, locale="en")["text"] == "€1,230.00 / November 20, 2026"
    assert (
        render(template, "sms", english, locale="de")["text"] == "1.230,00\xa0€ / 20. November 2026"
    )


def test_html_is_escaped_but_the_text_part_is_not() -> None:
    req = sample_request({"account_name": "Fish & <Chips>"})
    data = template_context(req, creditor_name="C")
    source = (
        "{% block subject %}x{% endblock %}{% block text %}{{ account_name }}{% endblock %}"
        "{% block html %}<p>{{ account_name }}</p>{% endblock %}"
    )
    rendered = render(compile_source(source), "email", data, locale="en")
    assert rendered["html"] == "<p>Fish &amp; &lt;Chips&gt;</p>"
    assert rendered["text"] == "Fish & <Chips>"


def test_printing_data_the_request_lacks_is_an_error() -> None:
    data = template_context(sample_request({"payment_link": None}), creditor_name="C")
    with pytest.raises(MissingData):
        render(
            compile_source("{% block text %}{{ payment_link }}{% endblock %}"),
            "sms",
            data,
            locale="en",
        )


@pytest.mark.parametrize(
    "source",
    [
        "{% block text %}{{ unclosed {% endblock %}",
        "{% block text %}{{ no_such_field }}{% endblock %}",
        "{% block subject %}only a subject{% endblock %}",
        "{% block text %}{{ total_due|nonexistent_filter }}{% endblock %}",
    ],
)
def test_broken_templates_fail_the_check(source: str) -> None:
    data = template_context(sample_request(), creditor_name="C")
    with pytest.raises(TemplateError):
        check(source, "sms" if "subject" not in source else "email", [data], locale="en")

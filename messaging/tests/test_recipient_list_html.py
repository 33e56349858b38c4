"""The New tab's recipient list written by ``recipient_rows`` / ``excluded_items`` is, byte for byte, what
the template's loops wrote before (issue 16 §3: one pass per list instead of filters per cell).

The reference is those loops, kept here as they were in ``messaging/new.html``; both are rendered by
Django's template engine with autoescaping on, on hand-picked rows and on generated ones (any text in
names, keys, reasons and labels, dates, known and unknown channels, targets or none).
"""

from __future__ import annotations

import datetime as dt

from django.template import Context, Template
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.recipients import ALTERNATE, CHART, USER, Excluded, ExcludedPerson, Recipient, Target

OLD_ROWS = Template(
    """{% load messaging_tags %}{% for r in shown_recipients %}
              <tr data-key="{{ r.key }}" data-messages="{{ r.targets|length }}">
                <td class="tick"><input type="checkbox" class="recipient-tick" value="{{ r.key }}" checked aria-label="Send to {{ r.name }}"></td>
                <td class="name">{{ r.name }}{% if r.born %} <small class="hint born" title="Date of birth">DOB {{ r.born|date:"m/d/Y" }}</small>{% elif r.client_id %} <small class="hint born">Chart #{{ r.client_id }}</small>{% endif %}</td>
                {% if r.when %}<td class="when">{{ r.when|date:"D M j, g:i A" }}</td>{% endif %}
                <td>{{ r.preferred|default:"—" }}</td>
                <td class="language">{{ r.language_label|default:"—" }}</td>
                <td class="targets">{% for t in r.targets %}<div class="target"><span class="ch ch-{{ t.channel }}">{{ t.channel_label }}</span> <span class="addr">{{ t.address|address:t.channel }}</span> <span class="src">{{ t.source_label }}</span></div>{% empty %}<span class="hint">—</span>{% endfor %}</td>
              </tr>
            {% endfor %}"""  # noqa: E501  (the markup as the template had it)
)
NEW_ROWS = Template("{% load messaging_tags %}{% recipient_rows shown_recipients %}")

OLD_EXCLUDED = Template(
    """{% for p in excluded_people %}
            <li data-key="{{ p.key }}"{% if p.partly %} class="partly"{% endif %}>
              <span class="name">{{ p.name }}</span>
              {% for e in p.reasons %}<span class="reason">{% if e.channel %}<span class="ch ch-{{ e.channel }}">{{ e.channel_label }}</span> {% endif %}{{ e.reason }}</span>{% endfor %}
              {% if p.partly %}<span class="hint">Other methods still go out.</span>{% endif %}
            </li>
            {% endfor %}"""  # noqa: E501
)
NEW_EXCLUDED = Template("{% load messaging_tags %}{% excluded_items excluded_people %}")

NASTY = "<b>&\"' O'Neil & <script>x</script>"
UTC = dt.UTC


def _rows(recipients: list[Recipient]) -> tuple[str, str]:
    context = {"shown_recipients": recipients}
    return OLD_ROWS.render(Context(context)), NEW_ROWS.render(Context(context))


def _excluded(people: list[ExcludedPerson]) -> tuple[str, str]:
    context = {"excluded_people": people}
    return OLD_EXCLUDED.render(Context(context)), NEW_EXCLUDED.render(Context(context))


def test_rows_are_what_the_template_loop_wrote():
    when = dt.datetime(2026, 12, 8, 14, 30, tzinfo=UTC)
    recipients = [
        Recipient(
            key="a1",
            recipient_type="client",
            name=NASTY,
            client_id=12345678,
            appointment_id=1,
            when=when,
            preferred="Text Message",
            targets=[
                Target("sms", "+16175550100", CHART),
                Target("email", "o'neil+1@example.org", ALTERNATE),
                Target("voice", "+442079460000", CHART),  # international: formatted by phonenumbers
                Target("fax", "", CHART),
            ],
            born=dt.date(1961, 3, 4),
            language_label="Spanish: Text (SMS); English (no Spanish text): Email",
        ),
        Recipient(key="a2", recipient_type="client", name="Lee, Ann", client_id=7, when=when + dt.timedelta(days=40)),
        Recipient(key="u3", recipient_type="staff", name="<i>Bo</i>", user_id=3, targets=[Target("sms", "x", USER)]),
        Recipient(
            key='c"4', recipient_type="client", name="", client_id=0, targets=[Target("carrier-pigeon", "a&b", "other")]
        ),
    ]
    old, new = _rows(recipients)
    assert new == old
    assert "&lt;script&gt;" in new and "<script>" not in new and "O&#x27;Neil" in new  # escaped as before
    assert 'aria-label="Send to &lt;b&gt;&amp;&quot;' in new


def test_an_empty_list_writes_nothing():
    assert _rows([]) == ("", "")
    assert _excluded([]) == ("", "")


def test_excluded_people_are_what_the_template_loop_wrote():
    def entry(key: str, reason: str, channel: str = "") -> Excluded:
        return Excluded(key=key, name=NASTY, reason=reason, channel=channel)

    people = [
        ExcludedPerson(key="a1", name=NASTY, reasons=[entry("a1", "No messaging consent")], partly=False),
        ExcludedPerson(
            key="a<2>",
            name="Ok, Olivia",
            reasons=[
                entry("a<2>", "The address is on the Do-Not-Send list (Replied STOP)", "sms"),
                entry("a<2>", NASTY, "x&y"),
            ],
            partly=True,
        ),
    ]
    old, new = _excluded(people)
    assert new == old
    assert 'class="partly"' in new and "&lt;script&gt;" in new


TEXT = st.text(max_size=12)
CHANNEL = st.sampled_from(["sms", "email", "voice", "fax", "portal", "", "a<b"])
ADDRESS = st.sampled_from(["", "+16175550100", "+4420794600", "+1617", "x@example.org", "<&>"]) | TEXT
TARGETS = st.lists(
    st.builds(Target, CHANNEL, ADDRESS, st.sampled_from([CHART, ALTERNATE, USER, "", "<s>"])), max_size=4
)
WHEN = st.none() | st.datetimes(
    min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2040, 1, 1), timezones=st.just(UTC)
).map(timezone.localtime)
RECIPIENT = st.builds(
    Recipient,
    key=TEXT,
    recipient_type=st.just("client"),
    name=TEXT,
    client_id=st.none() | st.integers(min_value=0, max_value=10**9),
    when=WHEN,
    preferred=TEXT,
    targets=TARGETS,
    born=st.none() | st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 1, 1)),
    language_label=TEXT,
)
PERSON = st.builds(
    ExcludedPerson,
    key=TEXT,
    name=TEXT,
    reasons=st.lists(st.builds(Excluded, key=TEXT, name=TEXT, reason=TEXT, channel=CHANNEL), max_size=3),
    partly=st.booleans(),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(recipients=st.lists(RECIPIENT, max_size=5), people=st.lists(PERSON, max_size=5))
def test_generated_lists_are_what_the_template_loops_wrote(recipients, people):
    old, new = _rows(recipients)
    assert new == old
    old, new = _excluded(people)
    assert new == old

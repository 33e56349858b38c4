from __future__ import annotations

import pytest

from messaging.sms_segments import GSM7, UCS2, clinical_terms_in, clinical_warning, sms_info, sms_warnings


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM7, 0, 0),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("€" * 80, GSM7, 160, 1),  # extension characters cost two septets
        ("€" * 81, GSM7, 162, 2),
        ("é" * 160, GSM7, 160, 1),  # é is in the GSM-7 basic set
        ("ê" + "a" * 69, UCS2, 70, 1),  # ê is not
        ("ê" + "a" * 70, UCS2, 71, 2),
        ("ê" + "a" * 133, UCS2, 134, 2),
        ("ê" + "a" * 134, UCS2, 135, 3),
        ("😀" * 35, UCS2, 70, 1),  # a surrogate pair costs two code units
    ],
)
def test_encoding_units_segments(text, encoding, units, segments):
    info = sms_info(text)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)
    assert info.characters == len(text)


def test_escape_pair_never_split_across_segments():
    # 152 plain septets then an extension character: the pair does not fit in segment 1 (153).
    info = sms_info("a" * 152 + "€" + "a" * 10)
    assert info.units == 164
    assert info.segments == 2
    info = sms_info("a" * 152 + "€" + "a" * 152)  # 152 | 2+151 | 1 -> three segments
    assert info.segments == 3


def test_surrogate_pair_never_split():
    info = sms_info("a" * 66 + "😀" + "a" * 66)  # 66 | 2+65 | 1
    assert info.encoding == UCS2
    assert info.segments == 3


def test_non_gsm_characters_reported_once():
    info = sms_info("Hi “Ana” ’s ê ê")
    assert info.non_gsm == ("“", "”", "’", "ê")
    warnings = sms_warnings(info)
    assert any("UCS-2" in w for w in warnings)


def test_single_segment_gsm_has_no_warning():
    assert sms_warnings(sms_info("Riverbend: appointment Tue 2:30 PM. Reply C to confirm.")) == []


def test_multi_segment_warning():
    assert any("2 segments" in w for w in sms_warnings(sms_info("x" * 200)))


def test_remaining_in_segment():
    assert sms_info("a" * 150).remaining_in_segment == 10
    assert sms_info("a" * 200).remaining_in_segment == 306 - 200


def test_clinical_terms_whole_words_case_insensitive():
    assert clinical_terms_in("Your Medication refill and your DIAGNOSIS; methadone clinic") == [
        "medication",
        "refill",
        "diagnosis",
        "methadone",
    ]
    assert clinical_terms_in("Diagnostics Ltd, hivemind, stdout") == []
    assert clinical_terms_in("Intensive Outpatient group at 5") == ["intensive outpatient"]


def test_clinical_warning_names_the_place():
    warning = clinical_warning("Your Suboxone refill", "voicemail")
    assert "voicemail" in warning and "“suboxone”" in warning
    assert clinical_warning("See you Tuesday", "text message") == ""

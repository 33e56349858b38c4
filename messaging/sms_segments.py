"""SMS length facts for the preview: encoding (GSM-7 or UCS-2), characters, segments.

GSM 03.38: the basic character set costs one septet a character, the extension table (``^{}[]~|\\€``
and form feed) two (escape + character). A message of up to 160 septets is one segment; longer ones
are split into 153-septet segments (the rest is the concatenation header), and an escape pair is
never split across two segments. Any character outside GSM-7 makes the whole message UCS-2: 70
UTF-16 code units in one segment, 67 per segment when split, a surrogate pair never split.

Also: warnings when clinical details would go into an SMS, a voicemail or an e-mail subject
(HIPAA minimum necessary, 42 CFR Part 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("\f^{}\\[~]|€")

GSM7 = "GSM-7"
UCS2 = "UCS-2"

SINGLE_LIMIT = {GSM7: 160, UCS2: 70}
MULTI_LIMIT = {GSM7: 153, UCS2: 67}
# Twilio refuses bodies over 1,600 characters; carriers may drop long concatenations well before.
MAX_SEGMENTS_ADVISED = 10


@dataclass(frozen=True)
class SmsInfo:
    characters: int  # what a person counts (code points)
    encoding: str  # GSM-7 or UCS-2
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # the limit that applies: 160/153 or 70/67
    non_gsm: tuple[str, ...] = field(default=())  # characters that forced UCS-2

    @property
    def remaining_in_segment(self) -> int:
        """Units left before one more segment is needed."""
        if self.segments == 0:
            return SINGLE_LIMIT[self.encoding]
        return self.segments * self.per_segment - self.units


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def _gsm_units(text: str) -> list[int]:
    return [2 if ch in GSM7_EXTENDED else 1 for ch in text]


def _ucs2_units(text: str) -> list[int]:
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _count_segments(units: list[int], limit: int) -> int:
    """Greedy split into segments of ``limit`` units that never splits one character's units."""
    segments, used = 1, 0
    for cost in units:
        if used + cost > limit:
            segments += 1
            used = 0
        used += cost
    return segments


def sms_info(text: str) -> SmsInfo:
    """Encoding, size and segment count of an SMS body."""
    text = text or ""
    if is_gsm7(text):
        encoding, units = GSM7, _gsm_units(text)
        non_gsm: tuple[str, ...] = ()
    else:
        encoding, units = UCS2, _ucs2_units(text)
        non_gsm = tuple(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENDED))
    total = sum(units)
    if total == 0:
        segments, per_segment = 0, SINGLE_LIMIT[encoding]
    elif total <= SINGLE_LIMIT[encoding]:
        segments, per_segment = 1, SINGLE_LIMIT[encoding]
    else:
        per_segment = MULTI_LIMIT[encoding]
        segments = _count_segments(units, per_segment)
    return SmsInfo(
        characters=len(text),
        encoding=encoding,
        units=total,
        segments=segments,
        per_segment=per_segment,
        non_gsm=non_gsm,
    )


# --- Clinical-detail warnings -------------------------------------------------------------------

# Words that reveal a diagnosis, treatment, medication or a (Part 2) program. Matched as whole
# words, case-insensitive, with an optional plural/-ic/-ist suffix where it reads naturally.
CLINICAL_TERMS: tuple[str, ...] = (
    "diagnosis",
    "diagnosed",
    "diagnoses",
    "medication",
    "medications",
    "prescription",
    "prescriptions",
    "refill",
    "dose",
    "dosage",
    "lab result",
    "lab results",
    "test result",
    "test results",
    "substance use",
    "substance abuse",
    "addiction",
    "alcohol",
    "alcoholism",
    "opioid",
    "opioids",
    "methadone",
    "suboxone",
    "buprenorphine",
    "naltrexone",
    "vivitrol",
    "detox",
    "rehab",
    "sobriety",
    "relapse",
    "overdose",
    "intensive outpatient",
    "iop",
    "mat program",
    "recovery program",
    "treatment program",
    "sud",
    "aa meeting",
    "na meeting",
    "depression",
    "anxiety",
    "bipolar",
    "schizophrenia",
    "ptsd",
    "adhd",
    "autism",
    "eating disorder",
    "psychiatric",
    "psychiatry",
    "psychiatrist",
    "psychosis",
    "antidepressant",
    "antipsychotic",
    "ssri",
    "lithium",
    "hiv",
    "std",
    "sti",
    "pregnancy",
    "suicide",
    "suicidal",
    "self-harm",
    "mental health",
)
_CLINICAL_RE = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(t) for t in sorted(CLINICAL_TERMS, key=len, reverse=True)) + r")(?![\w-])",
    re.IGNORECASE,
)


def clinical_terms_in(text: str) -> list[str]:
    """Clinical words found in ``text`` (lower-case, each once, in order of appearance)."""
    found: list[str] = []
    for match in _CLINICAL_RE.finditer(text or ""):
        word = match.group(1).lower()
        if word not in found:
            found.append(word)
    return found


def clinical_warning(text: str, where: str) -> str:
    """A staff-facing warning if ``text`` holds clinical words; ``where`` names the place as staff
    read it ("text message", "voicemail", "e-mail subject": a channel spec's ``clinical_check_place``)."""
    words = clinical_terms_in(text)
    if not words:
        return ""
    quoted = ", ".join(f"“{w}”" for w in words)
    return (
        f"The {where} mentions {quoted}. Clinical details (diagnosis, medication, program names) must "
        f"not appear in a {where}: anyone who sees the phone or inbox can read it."
    )


def sms_warnings(info: SmsInfo) -> list[str]:
    warnings: list[str] = []
    if info.encoding == UCS2:
        shown = " ".join(info.non_gsm[:8])
        warnings.append(
            f"Uses characters outside GSM-7 ({shown}): the whole text is sent as UCS-2, "
            f"{SINGLE_LIMIT[UCS2]} characters per segment instead of {SINGLE_LIMIT[GSM7]}."
        )
    if info.segments > 1:
        warnings.append(
            f"Sent as {info.segments} segments (billed per segment). The FCC healthcare exemption "
            f"expects treatment texts of at most 160 characters."
        )
    if info.segments > MAX_SEGMENTS_ADVISED:
        warnings.append(f"Over {MAX_SEGMENTS_ADVISED} segments: carriers may drop or truncate the text.")
    return warnings

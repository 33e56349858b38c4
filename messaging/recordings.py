"""Voice recordings uploaded on the Templates screen: what the file really is, how long it plays.

A recording is played to the callee by Twilio's ``<Play>``, which takes WAV and MP3. The file's type is
read from its bytes, never from its name: a WAV starts with a RIFF header whose form type is ``WAVE``;
an MP3 starts with an ID3v2 tag or directly with an MPEG audio frame (an 11-bit frame sync). The
duration is computed from the same bytes: a WAV's ``data`` chunk size over its byte rate (``fmt``
chunk); an MP3's frames walked one by one (each frame's header gives its length and sample count, so a
variable-bitrate file is measured as exactly as a constant one). No third-party parser is needed for
files this size (:data:`MAX_BYTES`).

:func:`inspect_recording` answers a :class:`Recording` or raises :class:`RecordingError` with a
sentence staff can act on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_BYTES = 5 * 1024 * 1024  # 5 MB: about 5 minutes of 128 kbit/s MP3, 55 s of CD-quality WAV
MAX_SECONDS = 180  # a voicemail longer than three minutes is rarely heard to the end
EXTENSIONS = {"wav": (".wav", ".wave"), "mp3": (".mp3",)}
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg"}
LABELS = {"wav": "WAV", "mp3": "MP3"}


class RecordingError(ValueError):
    """The upload is not a recording we can play (the message is shown to staff as is)."""


@dataclass(frozen=True)
class Recording:
    kind: str  # "wav" or "mp3"
    seconds: float
    size: int

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.kind][0]

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]

    @property
    def duration_label(self) -> str:
        total = int(self.seconds)  # whole seconds, as a player counts them
        return f"{total // 60}:{total % 60:02d}"


def sniff(data: bytes) -> str:
    """``"wav"``, ``"mp3"`` or ``""`` from the first bytes of a file."""
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:3] == b"ID3" or _frame_header(data, 0) is not None:
        return "mp3"
    return ""


def inspect_recording(data: bytes, filename: str = "") -> Recording:
    """Check an uploaded recording: real type WAV or MP3 (and matching its name), size, duration."""
    if not data:
        raise RecordingError("The file is empty. Choose a WAV or MP3 recording.")
    if len(data) > MAX_BYTES:
        raise RecordingError(
            f"The file is {len(data) / 1_048_576:.1f} MB; recordings may be at most {MAX_BYTES // 1_048_576} MB."
        )
    kind = sniff(data)
    if not kind:
        raise RecordingError("This file is not a WAV or MP3 recording (its contents are not audio of either type).")
    name = filename.lower()
    expected = next((k for k, exts in EXTENSIONS.items() if name.endswith(exts)), None)
    if name and expected is None:
        raise RecordingError("Choose a file ending in .wav or .mp3.")
    if expected is not None and expected != kind:
        raise RecordingError(
            f"The file is named {LABELS[expected]} but holds {LABELS[kind]} audio. "
            f"Rename it to end in {EXTENSIONS[kind][0]} or export it again as {LABELS[expected]}."
        )
    seconds = wav_seconds(data) if kind == "wav" else mp3_seconds(data)
    if seconds <= 0:
        raise RecordingError("The recording has no sound (its length is zero).")
    if seconds > MAX_SECONDS:
        raise RecordingError(
            f"The recording lasts {_minutes(seconds)}; recordings may last at most {_minutes(MAX_SECONDS)}."
        )
    return Recording(kind=kind, seconds=seconds, size=len(data))


def _minutes(seconds: float) -> str:
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d} (minutes:seconds)"


# --- WAV ----------------------------------------------------------------------------------------------


def wav_seconds(data: bytes) -> float:
    """Duration of a RIFF/WAVE file: the ``data`` chunk's size over the ``fmt`` chunk's byte rate."""
    byte_rate = 0
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                break
            _format, channels, rate, byte_rate, _align, _bits = struct.unpack_from("<HHIIHH", data, body)
            if channels == 0 or rate == 0:
                byte_rate = 0
        elif chunk_id == b"data":
            if not byte_rate:
                break
            available = min(size, len(data) - body)  # a streamed WAV may declare 0xFFFFFFFF
            return available / byte_rate
        pos = body + size + (size & 1)  # chunks are padded to an even length
    raise RecordingError("The WAV file is damaged or incomplete (no readable format or sound data).")


# --- MP3 ----------------------------------------------------------------------------------------------

# Bitrates in kbit/s by [MPEG-1?][layer][index]; index 0 (free format) and 15 (bad) are not accepted.
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _frame_header(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(frame length in bytes, samples, sample rate) of an MPEG audio frame at ``pos``, else None."""
    if pos + 4 > len(data) or data[pos] != 0xFF or (data[pos + 1] & 0xE0) != 0xE0:
        return None
    b1, b2 = data[pos + 1], data[pos + 2]
    version, layer_bits = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer = 4 - layer_bits  # 1, 2 or 3
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _SAMPLE_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4, 384, rate
    samples = 1152 if (layer == 2 or mpeg1) else 576
    return samples // 8 * bitrate // rate + padding, samples, rate


def _id3_end(data: bytes) -> int:
    """Where the audio starts after an ID3v2 tag (0 without one)."""
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = 0
    for byte in data[6:10]:
        if byte & 0x80:
            raise RecordingError("The MP3 file's ID3 tag is damaged.")
        size = (size << 7) | byte  # "syncsafe": 7 bits a byte
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def _is_info_frame(head: bytes) -> bool:
    return any(tag in head for tag in (b"Xing", b"Info", b"VBRI"))


def mp3_seconds(data: bytes) -> float:
    """Duration of an MP3: every frame's samples over its sample rate, frame after frame."""
    pos = _id3_end(data)
    while pos < len(data) and data[pos] == 0:  # some encoders pad the tag with zeros
        pos += 1
    start = pos
    seconds, frames = 0.0, 0
    while True:
        header = _frame_header(data, pos)
        if header is None:
            break
        length, samples, rate = header
        if length <= 4:
            break
        if not (frames == 0 and _is_info_frame(data[pos : pos + 48])):
            seconds += samples / rate  # an encoder's first "Xing"/"Info"/"VBRI" frame is silent metadata
        frames += 1
        pos += length
    if frames == 0:
        raise RecordingError("The MP3 file holds no readable audio frames.")
    # After the last frame only an ID3v1 tag (128 bytes) or a little padding may follow.
    if len(data) - pos > 128 + (len(data) - start) // 10:
        raise RecordingError("The MP3 file is damaged: part of it is not audio.")
    return seconds

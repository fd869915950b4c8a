"""H.264 bitstream facts the copy path needs: NAL units as FFmpeg's MP4 muxer splits them, which
and which packets a clip may start at (IDR)."""

from __future__ import annotations

IDR = 5  # nal_unit_type of a coded slice of an IDR picture (H.264 table 7-1)
_CODE3, _CODE4 = b"\x00\x00\x01", b"\x00\x00\x00\x01"


def annex_b(data: bytes) -> bool:
    return data.startswith((_CODE3, _CODE4))


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B packet, as FFmpeg's ``ff_avc_parse_nal_units`` splits them: bytes
    before the first start code dropped, one zero before a start code taken as part of the code."""

    def start_code(at: int) -> int:
        found = data.find(b"\x00\x00\x01", at)
        if found == -1:
            return len(data)
        return found - 1 if found > at and data[found - 1] == 0 else found

    units: list[bytes] = []
    start = start_code(0)
    while True:
        while start < len(data):  # the code's zeros and its 01
            byte = data[start]
            start += 1
            if byte != 0:
                break
        if start >= len(data):
            return units
        end = start_code(start)
        units.append(data[start:end])
        start = end


def as_stored(packet: bytes) -> bytes:
    """An H.264 packet as the MP4 muxer stores it: each NAL unit behind a 4-byte length."""
    if not annex_b(packet):
        return packet  # already length-prefixed
    return b"".join(len(unit).to_bytes(4, "big") + unit for unit in nal_units(packet))


def nal_types(packet: bytes) -> set[int]:
    if annex_b(packet):
        return {unit[0] & 0x1F for unit in nal_units(packet) if unit}
    types, at = set(), 0
    while at + 4 < len(packet):  # length-prefixed (an MP4 or MKV named .avi)
        size = int.from_bytes(packet[at : at + 4], "big")
        if size <= 0:
            break
        types.add(packet[at + 4] & 0x1F)
        at += 4 + size
    return types


def is_idr(packet: bytes) -> bool:
    """Whether a clip may start at this packet: an IDR picture (nothing after it refers past it)."""
    return IDR in nal_types(packet)

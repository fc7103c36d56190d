using System.Buffers.Binary;
using System.Text;

namespace InfoBank.Core.Audit;

/// <summary>
/// One entry of the audit log as stored, exported and verified. <see cref="Payload"/> is the exact
/// JSON text recorded at append time (hashed as its UTF-8 bytes, never re-serialised);
/// <see cref="SealedPersonalData"/> is ciphertext under the subject's data key, so destroying that
/// key erases the personal data while the entry's bytes — and the tree — stay as they were.
/// </summary>
public sealed record AuditEntry(
    long Sequence,
    DateTimeOffset Time,
    string Kind,
    string Actor,
    string? SubjectRef,
    string? Purpose,
    Guid? GrantId,
    string? PolicyHash,
    string? Payload,
    byte[]? SealedPersonalData)
{
    /// <summary>The canonical bytes (see <see cref="AuditEntryEncoding"/>).</summary>
    public byte[] CanonicalBytes() => AuditEntryEncoding.Encode(this);

    /// <summary>RFC 9162 leaf hash of the canonical bytes.</summary>
    public byte[] LeafHash() => Merkle.LeafHash(CanonicalBytes());
}

/// <summary>
/// The canonical, length-prefixed binary form of an entry — the leaf data of the Merkle tree.
/// An auditor can reimplement it from this description:
/// <code>
/// entry   = version:u8(=1) ‖ sequence:u64 ‖ time:i64 ‖ kind ‖ actor ‖ subject ‖ purpose ‖ grant ‖ policy ‖ payload ‖ sealed
/// field   = 0x00                            (absent)
///         | 0x01 ‖ length:u32 ‖ bytes       (present; may be empty)
/// </code>
/// Integers are big-endian. time is microseconds since 1970-01-01T00:00:00Z. Text fields are UTF-8;
/// grant is the GUID in lowercase 8-4-4-4-12 form; payload is the stored JSON text; sealed is raw bytes.
/// kind and actor are always present.
/// </summary>
public static class AuditEntryEncoding
{
    public const byte Version = 1;

    /// <summary>Times are kept to the microsecond, the precision every supported database stores exactly.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return new DateTimeOffset(utc.Ticks - (utc.Ticks % 10), TimeSpan.Zero);
    }

    public static long ToUnixMicroseconds(DateTimeOffset time) =>
        (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset FromUnixMicroseconds(long microseconds) =>
        new(DateTimeOffset.UnixEpoch.UtcTicks + microseconds * 10, TimeSpan.Zero);

    public static byte[] Encode(AuditEntry entry)
    {
        var fields = new[]
        {
            Utf8(entry.Kind),
            Utf8(entry.Actor),
            Utf8(entry.SubjectRef),
            Utf8(entry.Purpose),
            entry.GrantId is { } grant ? Encoding.UTF8.GetBytes(grant.ToString("D")) : null,
            Utf8(entry.PolicyHash),
            Utf8(entry.Payload),
            entry.SealedPersonalData,
        };
        var length = 1 + 8 + 8 + fields.Sum(f => f is null ? 1 : 5 + f.Length);
        var buffer = new byte[length];
        var span = buffer.AsSpan();
        span[0] = Version;
        BinaryPrimitives.WriteUInt64BigEndian(span[1..], checked((ulong)entry.Sequence));
        BinaryPrimitives.WriteInt64BigEndian(span[9..], ToUnixMicroseconds(entry.Time));
        var offset = 17;
        foreach (var field in fields)
        {
            if (field is null)
            {
                span[offset++] = 0x00;
                continue;
            }
            span[offset++] = 0x01;
            BinaryPrimitives.WriteUInt32BigEndian(span[offset..], (uint)field.Length);
            offset += 4;
            field.CopyTo(span[offset..]);
            offset += field.Length;
        }
        return buffer;
    }

    private static byte[]? Utf8(string? text) => text is null ? null : Encoding.UTF8.GetBytes(text);
}

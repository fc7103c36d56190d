using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using InfoBank.Core.Crypto;

namespace InfoBank.Core.Access;

/// <summary>
/// What a page cursor carries. <see cref="Position"/> is the store's keyset position (it may name
/// internal ids, which is why cursors are encrypted, not just signed). A fetch is one pass through
/// the pages: <see cref="FetchId"/>, <see cref="FetchStartedAt"/> and <see cref="Served"/> let the
/// frequency and volume limits count a whole pass, not single pages.
/// </summary>
public sealed record CursorState(
    Guid GrantId,
    string Recipient,
    Guid FetchId,
    DateTimeOffset FetchStartedAt,
    int Served,
    string Position,
    DateTimeOffset IssuedAt,
    byte[] QueryHash);

/// <summary>Why a cursor was refused; each maps to its own message.</summary>
public enum CursorRejection
{
    /// <summary>Not base64url, or too short to be a cursor.</summary>
    Malformed,

    /// <summary>Authentication failed: altered, made up, or issued under another key.</summary>
    Forged,

    /// <summary>Issued for another recipient.</summary>
    WrongRecipient,

    /// <summary>Issued for another grant of the same recipient.</summary>
    WrongGrant,

    /// <summary>Issued for a different query (other filters, or the grant's terms changed since).</summary>
    QueryMismatch,

    /// <summary>Older than the page lifetime.</summary>
    Expired,

    /// <summary>The fetch it continues began longer ago than a fetch may last.</summary>
    FetchExpired,

    /// <summary>Claims to be issued in the future (clock skew beyond tolerance, or tampering with a stolen key).</summary>
    NotYetValid,
}

/// <summary>The outcome of reading a cursor: its state, or why it was refused.</summary>
public sealed record CursorReadResult(CursorState? State, CursorRejection? Rejection)
{
    public bool IsValid => State is not null;

    public string Message => Rejection switch
    {
        null => "The cursor is valid.",
        CursorRejection.Malformed => "The cursor is not a cursor this server issued (not base64url, or truncated).",
        CursorRejection.Forged => "The cursor failed authentication: it was altered, made up, or issued under a retired key.",
        CursorRejection.WrongRecipient => "The cursor was issued to another recipient.",
        CursorRejection.WrongGrant => "The cursor was issued for another grant.",
        CursorRejection.QueryMismatch => "The cursor belongs to a different query, or the grant's terms changed since it was issued; start a new fetch without a cursor.",
        CursorRejection.Expired => "The cursor has expired; start a new fetch without a cursor.",
        CursorRejection.FetchExpired => "The fetch this cursor continues has lasted longer than allowed; start a new fetch without a cursor.",
        CursorRejection.NotYetValid => "The cursor claims to be issued in the future.",
        _ => "The cursor was refused.",
    };
}

/// <summary>
/// Opaque page cursors: AES-256-GCM over (grant, recipient, fetch, served, position, issued-at,
/// query hash) with a random nonce. Encryption hides internal positions; the tag makes every
/// alteration, forgery or key change fail. Grant, recipient and query are checked after decryption
/// (not bound as associated data) so that each misuse gets its own reason.
/// </summary>
public sealed class PageCursors
{
    private const byte Version = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int HashSize = 32;

    // grant (16) ‖ fetch (16) ‖ fetch started (8) ‖ issued (8) ‖ served (4) ‖ query hash (32) ‖ recipient length (2)
    private const int FixedSize = 16 + 16 + 8 + 8 + 4 + HashSize + 2;
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    private readonly byte[] _key;

    /// <param name="key">32 bytes; normally <see cref="AccessKeys.CursorKey"/>.</param>
    /// <param name="pageLifetime">How long a page's cursor stays usable.</param>
    /// <param name="fetchLifetime">How long one fetch (a pass through the pages) may last in total.</param>
    public PageCursors(byte[] key, TimeSpan pageLifetime, TimeSpan fetchLifetime)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != 32)
        {
            throw new ArgumentException("The cursor key is 32 bytes.", nameof(key));
        }
        _key = key.ToArray();
        PageLifetime = pageLifetime;
        FetchLifetime = fetchLifetime;
    }

    public TimeSpan PageLifetime { get; }

    public TimeSpan FetchLifetime { get; }

    /// <summary>
    /// A hash of what defines a query (filters, page semantics, the grant's approval version): a cursor
    /// is valid only for the query it was issued for. Parts are length-prefixed, so they cannot run together.
    /// </summary>
    public static byte[] QueryHash(params string[] parts)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> length = stackalloc byte[4];
        foreach (var part in parts)
        {
            var bytes = Encoding.UTF8.GetBytes(part);
            BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
            hash.AppendData(length);
            hash.AppendData(bytes);
        }
        return hash.GetHashAndReset();
    }

    /// <summary>Encrypts <paramref name="state"/> into an opaque base64url token.</summary>
    public string Issue(CursorState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.QueryHash.Length != HashSize)
        {
            throw new ArgumentException("The query hash is a SHA-256 value (32 bytes).", nameof(state));
        }
        var recipient = Encoding.UTF8.GetBytes(state.Recipient);
        if (recipient.Length > ushort.MaxValue)
        {
            throw new ArgumentException("The recipient id is too long.", nameof(state));
        }
        var position = Encoding.UTF8.GetBytes(state.Position);
        var plain = new byte[FixedSize + recipient.Length + position.Length];
        var span = plain.AsSpan();
        state.GrantId.TryWriteBytes(span[..16], bigEndian: true, out _);
        state.FetchId.TryWriteBytes(span.Slice(16, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteInt64BigEndian(span[32..], state.FetchStartedAt.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt64BigEndian(span[40..], state.IssuedAt.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt32BigEndian(span[48..], state.Served);
        state.QueryHash.CopyTo(span[52..]);
        BinaryPrimitives.WriteUInt16BigEndian(span[(52 + HashSize)..], (ushort)recipient.Length);
        recipient.CopyTo(span[FixedSize..]);
        position.CopyTo(span[(FixedSize + recipient.Length)..]);

        var token = new byte[1 + NonceSize + plain.Length + TagSize];
        token[0] = Version;
        var nonce = token.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plain, token.AsSpan(1 + NonceSize, plain.Length), token.AsSpan(1 + NonceSize + plain.Length, TagSize), token.AsSpan(0, 1));
        CryptographicOperations.ZeroMemory(plain);
        return Base64Url.Encode(token);
    }

    /// <summary>
    /// Reads a cursor presented by <paramref name="recipient"/> for <paramref name="grantId"/> and the
    /// query with <paramref name="queryHash"/>, at <paramref name="now"/>. Refuses, with a distinct
    /// reason, anything malformed, forged, issued to someone else, for another grant or query, or stale.
    /// </summary>
    public CursorReadResult Read(string token, Guid grantId, string recipient, ReadOnlySpan<byte> queryHash, DateTimeOffset now)
    {
        var bytes = string.IsNullOrEmpty(token) || token.Length > 8_192 ? null : Base64Url.TryDecode(token);
        if (bytes is null || bytes.Length < 1 + NonceSize + FixedSize + TagSize)
        {
            return Refuse(CursorRejection.Malformed);
        }
        if (bytes[0] != Version)
        {
            return Refuse(CursorRejection.Forged);
        }
        var length = bytes.Length - 1 - NonceSize - TagSize;
        var plain = new byte[length];
        try
        {
            using var aes = new AesGcm(_key, TagSize);
            aes.Decrypt(bytes.AsSpan(1, NonceSize), bytes.AsSpan(1 + NonceSize, length), bytes.AsSpan(1 + NonceSize + length, TagSize), plain, bytes.AsSpan(0, 1));
        }
        catch (AuthenticationTagMismatchException)
        {
            return Refuse(CursorRejection.Forged);
        }

        var span = plain.AsSpan();
        var recipientLength = BinaryPrimitives.ReadUInt16BigEndian(span[(52 + HashSize)..]);
        if (FixedSize + recipientLength > length)
        {
            // Authentic but inconsistent can only mean our own encoder is broken; refuse rather than guess.
            return Refuse(CursorRejection.Malformed);
        }
        var state = new CursorState(
            GrantId: new Guid(span[..16], bigEndian: true),
            Recipient: Encoding.UTF8.GetString(span.Slice(FixedSize, recipientLength)),
            FetchId: new Guid(span.Slice(16, 16), bigEndian: true),
            FetchStartedAt: DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(span[32..])),
            Served: BinaryPrimitives.ReadInt32BigEndian(span[48..]),
            Position: Encoding.UTF8.GetString(span[(FixedSize + recipientLength)..]),
            IssuedAt: DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(span[40..])),
            QueryHash: span.Slice(52, HashSize).ToArray());

        if (!string.Equals(state.Recipient, recipient, StringComparison.Ordinal))
        {
            return Refuse(CursorRejection.WrongRecipient);
        }
        if (state.GrantId != grantId)
        {
            return Refuse(CursorRejection.WrongGrant);
        }
        if (!CryptographicOperations.FixedTimeEquals(state.QueryHash, queryHash))
        {
            return Refuse(CursorRejection.QueryMismatch);
        }
        if (state.IssuedAt > now + ClockSkew || state.FetchStartedAt > state.IssuedAt)
        {
            return Refuse(CursorRejection.NotYetValid);
        }
        if (now - state.IssuedAt > PageLifetime)
        {
            return Refuse(CursorRejection.Expired);
        }
        if (now - state.FetchStartedAt > FetchLifetime)
        {
            return Refuse(CursorRejection.FetchExpired);
        }
        return new CursorReadResult(state, null);
    }

    private static CursorReadResult Refuse(CursorRejection rejection) => new(null, rejection);
}

using System.Security.Cryptography;
using System.Text;
using InfoBank.Core.Crypto;

namespace InfoBank.Core.Access;

/// <summary>
/// Per-recipient pseudonyms: <c>base64url(HMAC-SHA256(key, recipient ‖ 0x00 ‖ resident id))</c>.
/// The same resident gets the same pseudonym every time one recipient reads, so the recipient can
/// join its own pages and fetches, but a different, unlinkable one for every other recipient; and
/// without the key nobody can compute or invert it. The internal resident id never leaves the bank.
/// </summary>
public sealed class RecipientPseudonyms
{
    private readonly byte[] _key;

    /// <param name="key">At least 32 bytes; normally <see cref="AccessKeys.PseudonymKey"/>.</param>
    public RecipientPseudonyms(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < 32)
        {
            throw new ArgumentException("The pseudonym key must be at least 32 bytes.", nameof(key));
        }
        _key = key.ToArray();
    }

    /// <summary>The pseudonym of <paramref name="residentId"/> for <paramref name="recipient"/> (a client id).</summary>
    public string For(string recipient, Guid residentId)
    {
        ArgumentException.ThrowIfNullOrEmpty(recipient);
        // The 0x00 separator keeps (recipient, resident) unambiguous only if the recipient cannot contain it.
        if (recipient.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("A recipient id cannot contain NUL.", nameof(recipient));
        }
        var length = Encoding.UTF8.GetByteCount(recipient);
        Span<byte> message = length <= 256 ? stackalloc byte[length + 17] : new byte[length + 17];
        Encoding.UTF8.GetBytes(recipient, message);
        message[length] = 0;
        residentId.TryWriteBytes(message[(length + 1)..], bigEndian: true, out _);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, message, mac);
        return Base64Url.Encode(mac);
    }
}

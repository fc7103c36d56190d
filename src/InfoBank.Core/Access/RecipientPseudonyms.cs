using System.Security.Cryptography;
using System.Text;
using InfoBank.Core.Crypto;

namespace InfoBank.Core.Access;

/// <summary>
/// Per-grant pseudonyms: <c>base64url(HMAC-SHA256(key, recipient ‖ 0x00 ‖ grant id ‖ resident id))</c>.
/// The same resident gets the same pseudonym every time one grant is read, so the recipient can
/// join the pages and fetches of that grant, but a different, unlinkable one under every other grant
/// (of the same or another recipient): datasets given for different purposes cannot be joined; and
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

    /// <summary>The pseudonym of <paramref name="residentId"/> under grant <paramref name="grantId"/> of <paramref name="recipient"/> (a client id).</summary>
    public string For(string recipient, Guid grantId, Guid residentId)
    {
        ArgumentException.ThrowIfNullOrEmpty(recipient);
        // The 0x00 separator keeps (recipient, resident) unambiguous only if the recipient cannot contain it.
        if (recipient.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("A recipient id cannot contain NUL.", nameof(recipient));
        }
        var length = Encoding.UTF8.GetByteCount(recipient);
        // The grant and resident ids have a fixed 16 bytes each, so no separator is needed after the NUL.
        Span<byte> message = length <= 256 ? stackalloc byte[length + 33] : new byte[length + 33];
        Encoding.UTF8.GetBytes(recipient, message);
        message[length] = 0;
        grantId.TryWriteBytes(message[(length + 1)..], bigEndian: true, out _);
        residentId.TryWriteBytes(message[(length + 17)..], bigEndian: true, out _);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, message, mac);
        return Base64Url.Encode(mac);
    }
}

using System.Security.Cryptography;
using System.Text;

namespace InfoBank.Core.Access;

/// <summary>
/// The two keys brokered access needs, derived with HKDF-SHA256 from one server secret (at least
/// 32 random bytes kept outside the database): the per-recipient pseudonym key and the cursor key.
/// Separate labels keep the keys independent, so a cursor never reveals anything about pseudonyms.
/// </summary>
public sealed class AccessKeys
{
    public const int MinimumSecretSize = 32;

    private const string PseudonymLabel = "infobank/access/pseudonym/v1";
    private const string CursorLabel = "infobank/access/cursor/v1";

    private AccessKeys(byte[] pseudonymKey, byte[] cursorKey)
    {
        PseudonymKey = pseudonymKey;
        CursorKey = cursorKey;
    }

    /// <summary>The HMAC-SHA256 key of <see cref="RecipientPseudonyms"/>.</summary>
    public byte[] PseudonymKey { get; }

    /// <summary>The AES-256-GCM key of <see cref="PageCursors"/>.</summary>
    public byte[] CursorKey { get; }

    /// <summary>Derives both keys from <paramref name="secret"/>; refuses a secret shorter than 32 bytes.</summary>
    public static AccessKeys Derive(ReadOnlySpan<byte> secret)
    {
        if (secret.Length < MinimumSecretSize)
        {
            throw new ArgumentException($"The access secret must be at least {MinimumSecretSize} bytes.", nameof(secret));
        }
        return new AccessKeys(Expand(secret, PseudonymLabel), Expand(secret, CursorLabel));
    }

    private static byte[] Expand(ReadOnlySpan<byte> secret, string label)
    {
        var key = new byte[32];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, secret, key, salt: [], info: Encoding.UTF8.GetBytes(label));
        return key;
    }
}

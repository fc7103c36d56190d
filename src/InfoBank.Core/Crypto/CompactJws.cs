using System.Text;
using System.Text.Json;

namespace InfoBank.Core.Crypto;

/// <summary>
/// JWS compact serialisation (RFC 7515 §7.1) with Ed25519 (<c>alg: EdDSA</c>, RFC 8037). The
/// protected header names the key by its RFC 7638 thumbprint (<c>kid</c>) so a verifier picks the
/// public key from the published JWKS; the payload bytes are signed exactly as given.
/// </summary>
public static class CompactJws
{
    public const string Algorithm = "EdDSA";

    /// <summary>Signs <paramref name="payload"/> and returns <c>header.payload.signature</c>, each base64url.</summary>
    public static string Sign(Ed25519Key key, string type, ReadOnlySpan<byte> payload)
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
        {
            ["alg"] = Algorithm,
            ["kid"] = key.KeyId,
            ["typ"] = type,
        });
        var signingInput = Base64Url.Encode(header) + "." + Base64Url.Encode(payload);
        var signature = key.Sign(Encoding.ASCII.GetBytes(signingInput));
        return signingInput + "." + Base64Url.Encode(signature);
    }

    /// <summary>
    /// Verifies a compact JWS against a public key; returns the payload bytes, or null when the
    /// token is malformed, not EdDSA, or the signature does not verify.
    /// </summary>
    public static byte[]? Verify(string jws, ReadOnlySpan<byte> publicKey)
    {
        var parts = jws.Split('.');
        if (parts.Length != 3)
        {
            return null;
        }
        var header = Base64Url.TryDecode(parts[0]);
        var payload = Base64Url.TryDecode(parts[1]);
        var signature = Base64Url.TryDecode(parts[2]);
        if (header is null || payload is null || signature is null)
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(header);
            if (!doc.RootElement.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String || alg.GetString() != Algorithm)
            {
                return null;
            }
        }
        catch (JsonException)
        {
            return null;
        }
        return Ed25519Key.Verify(publicKey, Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature) ? payload : null;
    }
}

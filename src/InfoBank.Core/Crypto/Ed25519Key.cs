using System.Security.Cryptography;
using System.Text;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace InfoBank.Core.Crypto;

/// <summary>
/// An Ed25519 signing key (RFC 8032) for consent receipts and audit checkpoints, on BouncyCastle.
/// The key id is the RFC 7638 JWK thumbprint of the public key, so anyone holding the published
/// JWKS can recompute it; signatures are deterministic, so equal input gives equal signatures.
/// </summary>
public sealed class Ed25519Key
{
    public const int SeedLength = 32;
    public const int PublicKeyLength = 32;
    public const int SignatureLength = 64;

    private readonly Ed25519PrivateKeyParameters _private;

    private Ed25519Key(Ed25519PrivateKeyParameters privateKey)
    {
        _private = privateKey;
        PublicKey = privateKey.GeneratePublicKey().GetEncoded();
        KeyId = Thumbprint(PublicKey);
    }

    /// <summary>The raw 32-byte public key.</summary>
    public byte[] PublicKey { get; }

    /// <summary>RFC 7638 thumbprint (base64url SHA-256) of the public JWK.</summary>
    public string KeyId { get; }

    public static Ed25519Key Generate()
    {
        var seed = RandomNumberGenerator.GetBytes(SeedLength);
        try
        {
            return FromSeed(seed);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    public static Ed25519Key FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != SeedLength)
        {
            throw new ArgumentException($"An Ed25519 seed is {SeedLength} bytes.", nameof(seed));
        }
        return new Ed25519Key(new Ed25519PrivateKeyParameters(seed.ToArray(), 0));
    }

    /// <summary>The 32-byte private seed, for persisting the key. Callers must keep it out of logs and the database.</summary>
    public byte[] ExportSeed() => _private.GetEncoded();

    public byte[] Sign(ReadOnlySpan<byte> message)
    {
        var signer = new Ed25519Signer();
        signer.Init(true, _private);
        signer.BlockUpdate(message);
        return signer.GenerateSignature();
    }

    /// <summary>Verifies with only the public key; false for any malformed key or signature.</summary>
    public static bool Verify(ReadOnlySpan<byte> publicKey, ReadOnlySpan<byte> message, ReadOnlySpan<byte> signature)
    {
        if (publicKey.Length != PublicKeyLength || signature.Length != SignatureLength)
        {
            return false;
        }
        try
        {
            var verifier = new Ed25519Signer();
            verifier.Init(false, new Ed25519PublicKeyParameters(publicKey.ToArray(), 0));
            verifier.BlockUpdate(message);
            return verifier.VerifySignature(signature.ToArray());
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.</summary>
    public static string Thumbprint(ReadOnlySpan<byte> publicKey)
    {
        var canonical = $"{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{Base64Url.Encode(publicKey)}\"}}";
        return Base64Url.Encode(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }
}

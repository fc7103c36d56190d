using System.Text;
using InfoBank.Core.Crypto;

namespace InfoBank.Core.Tests.Crypto;

public sealed class Ed25519KeyTests
{
    // RFC 8032 §7.1, TEST 2: one-byte message 0x72.
    private const string Rfc8032Seed = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    private const string Rfc8032Public = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    private const string Rfc8032Signature = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

    [Fact]
    public void Matches_the_RFC_8032_test_vector()
    {
        var key = Ed25519Key.FromSeed(Convert.FromHexString(Rfc8032Seed));
        Assert.Equal(Rfc8032Public, Convert.ToHexStringLower(key.PublicKey));
        Assert.Equal(Rfc8032Signature, Convert.ToHexStringLower(key.Sign([0x72])));
    }

    [Fact]
    public void Signature_verifies_with_the_public_key_only()
    {
        var key = Ed25519Key.Generate();
        var message = Encoding.UTF8.GetBytes("consent given");
        Assert.True(Ed25519Key.Verify(key.PublicKey, message, key.Sign(message)));
    }

    [Fact]
    public void A_changed_byte_or_another_key_fails_verification()
    {
        var key = Ed25519Key.Generate();
        var message = Encoding.UTF8.GetBytes("consent given");
        var signature = key.Sign(message);

        var tampered = (byte[])message.Clone();
        tampered[0] ^= 1;
        Assert.False(Ed25519Key.Verify(key.PublicKey, tampered, signature));
        Assert.False(Ed25519Key.Verify(Ed25519Key.Generate().PublicKey, message, signature));
        Assert.False(Ed25519Key.Verify(key.PublicKey, message, signature.AsSpan(0, 63)));
    }

    [Fact]
    public void Key_id_is_the_RFC_7638_thumbprint_and_survives_export()
    {
        var key = Ed25519Key.Generate();
        var reloaded = Ed25519Key.FromSeed(key.ExportSeed());
        Assert.Equal(key.KeyId, reloaded.KeyId);
        Assert.Equal(43, key.KeyId.Length);
        Assert.NotEqual(key.KeyId, Ed25519Key.Generate().KeyId);
    }
}

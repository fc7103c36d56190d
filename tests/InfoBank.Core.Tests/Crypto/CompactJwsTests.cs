using System.Text;
using System.Text.Json;
using InfoBank.Core.Crypto;

namespace InfoBank.Core.Tests.Crypto;

public sealed class CompactJwsTests
{
    [Fact]
    public void Signed_payload_verifies_and_names_the_key_in_the_header()
    {
        var key = Ed25519Key.Generate();
        var jws = CompactJws.Sign(key, "consent-receipt+jwt", Encoding.UTF8.GetBytes("{\"a\":1}"));

        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(CompactJws.Verify(jws, key.PublicKey)!));
        using var header = JsonDocument.Parse(Base64Url.TryDecode(jws.Split('.')[0])!);
        Assert.Equal("EdDSA", header.RootElement.GetProperty("alg").GetString());
        Assert.Equal(key.KeyId, header.RootElement.GetProperty("kid").GetString());
        Assert.Equal("consent-receipt+jwt", header.RootElement.GetProperty("typ").GetString());
    }

    [Fact]
    public void Changed_payload_other_key_or_malformed_token_fails()
    {
        var key = Ed25519Key.Generate();
        var jws = CompactJws.Sign(key, "JWT", Encoding.UTF8.GetBytes("{\"a\":1}"));
        var parts = jws.Split('.');
        var forged = parts[0] + "." + Base64Url.Encode(Encoding.UTF8.GetBytes("{\"a\":2}")) + "." + parts[2];

        Assert.Null(CompactJws.Verify(forged, key.PublicKey));
        Assert.Null(CompactJws.Verify(jws, Ed25519Key.Generate().PublicKey));
        Assert.Null(CompactJws.Verify("not.a.jws!", key.PublicKey));
        Assert.Null(CompactJws.Verify(parts[0] + "." + parts[1], key.PublicKey));
    }
}

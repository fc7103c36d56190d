using System.Text;
using System.Text.Json;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Signers;

namespace InfoBank.Server.Tests.Consent;

/// <summary>
/// A receipt verifies with nothing but the published JWKS and a generic Ed25519 implementation
/// (BouncyCastle directly, none of our types), and a single changed byte makes it fail.
/// </summary>
public sealed class ReceiptVerificationTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    [Fact]
    public async Task Receipt_verifies_with_the_published_jwks_only_and_a_changed_byte_fails()
    {
        var offers = factory.Services.GetRequiredService<OfferService>();
        var consents = factory.Services.GetRequiredService<ConsentService>();
        var research = ConsentKit.ResearchDraft();
        var offer = (await offers.PublishAsync(research with { Notice = research.Notice with { ValidFrom = DateTimeOffset.UtcNow.AddDays(-1), ValidUntil = DateTimeOffset.UtcNow.AddDays(30) } })).Offer;
        var subject = Guid.NewGuid();
        await using (var scope = factory.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<Features.Custody.ResidentCustodyService>().EnrolAsync(subject, Features.Custody.CustodyTerms.Current, default);
        }
        var (view, refusal) = await consents.GiveAsync(subject,
            new Core.Consent.GiveConsent(offer.OfferId, offer.NoticeVersion, null, offer.Notice.SpecialCareItems), default);
        Assert.True(view is not null, refusal?.Detail);
        var jws = (await consents.ReceiptAsync(subject, view.Consent.ConsentId, default))!.Jws;

        var jwks = await factory.CreateClient().GetStringAsync("/api/v1/keys");
        Assert.True(VerifyWithJwks(jws, jwks, out var payload));
        using (var receipt = JsonDocument.Parse(payload))
        {
            Assert.Equal(view.Consent.ConsentId.ToString(), receipt.RootElement.GetProperty("recordId").GetString());
            Assert.Equal("ConsentGiven", receipt.RootElement.GetProperty("state").GetString());
            Assert.Equal(offer.NoticeHash, receipt.RootElement.GetProperty("notice").GetProperty("hash").GetString());
        }

        // Flip one bit in each of a few positions of the signed payload (in its decoded form).
        var parts = jws.Split('.');
        var body = Convert.FromBase64String(Pad(parts[1]));
        foreach (var position in new[] { 0, body.Length / 2, body.Length - 1 })
        {
            var tampered = (byte[])body.Clone();
            tampered[position] ^= 0x01;
            var forged = parts[0] + "." + Base64Url(tampered) + "." + parts[2];
            Assert.False(VerifyWithJwks(forged, jwks, out _));
        }
        var signature = Convert.FromBase64String(Pad(parts[2]));
        signature[10] ^= 0x80;
        Assert.False(VerifyWithJwks(parts[0] + "." + parts[1] + "." + Base64Url(signature), jwks, out _));

        // Withdrawal produces a receipt too, with the whole history, under the same published key.
        await consents.WithdrawAsync(subject, view.Consent.ConsentId, default);
        var withdrawal = (await consents.ReceiptAsync(subject, view.Consent.ConsentId, default))!.Jws;
        Assert.True(VerifyWithJwks(withdrawal, jwks, out var withdrawn));
        using var after = JsonDocument.Parse(withdrawn);
        Assert.Equal("ConsentWithdrawn", after.RootElement.GetProperty("state").GetString());
        Assert.Equal(2, after.RootElement.GetProperty("events").GetArrayLength());
    }

    /// <summary>An independent verifier: RFC 7515 compact JWS, RFC 8037 EdDSA, key chosen by kid from the JWKS.</summary>
    internal static bool VerifyWithJwks(string jws, string jwksJson, out string payload)
    {
        payload = "";
        var parts = jws.Split('.');
        if (parts.Length != 3)
        {
            return false;
        }
        using var header = JsonDocument.Parse(Convert.FromBase64String(Pad(parts[0])));
        if (header.RootElement.GetProperty("alg").GetString() != "EdDSA")
        {
            return false;
        }
        var kid = header.RootElement.GetProperty("kid").GetString();
        using var jwks = JsonDocument.Parse(jwksJson);
        var jwk = jwks.RootElement.GetProperty("keys").EnumerateArray()
            .Where(k => k.GetProperty("kid").GetString() == kid)
            .Select(k => (JsonElement?)k).FirstOrDefault();
        if (jwk is not { } key || key.GetProperty("kty").GetString() != "OKP" || key.GetProperty("crv").GetString() != "Ed25519")
        {
            return false;
        }
        var publicKey = Convert.FromBase64String(Pad(key.GetProperty("x").GetString()!));
        var verifier = new Ed25519Signer();
        verifier.Init(false, new Ed25519PublicKeyParameters(publicKey, 0));
        var signingInput = Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]);
        verifier.BlockUpdate(signingInput, 0, signingInput.Length);
        if (!verifier.VerifySignature(Convert.FromBase64String(Pad(parts[2]))))
        {
            return false;
        }
        payload = Encoding.UTF8.GetString(Convert.FromBase64String(Pad(parts[1])));
        return true;
    }

    private static string Pad(string base64Url)
    {
        var s = base64Url.Replace('-', '+').Replace('_', '/');
        return s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
    }

    private static string Base64Url(byte[] data) => Convert.ToBase64String(data).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

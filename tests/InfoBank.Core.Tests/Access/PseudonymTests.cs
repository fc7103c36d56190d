using System.Security.Cryptography;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using InfoBank.Core.Access;
using InfoBank.Core.Crypto;

namespace InfoBank.Core.Tests.Access;

public sealed class PseudonymTests
{
    private static readonly AccessKeys Keys = AccessKeys.Derive(RandomNumberGenerator.GetBytes(32));
    private static readonly RecipientPseudonyms Pseudonyms = new(Keys.PseudonymKey);
    private static readonly Guid Grant = Guid.Parse("9c0f3a51-7e2d-4b86-a1d4-3e5b7c9f0a22");

    [Fact]
    public void Is_the_hmac_of_recipient_nul_grant_resident()
    {
        var grant = Guid.Parse("5d1e6b0c-8a7f-4e2b-b9c3-2f4a6d8e0b11");
        var resident = Guid.Parse("0b7c2a4e-39f1-4c55-9a0e-5a3f0f6c1d22");
        var message = Encoding.UTF8.GetBytes("fitness-club").Concat(new byte[] { 0 }).Concat(grant.ToByteArray(bigEndian: true)).Concat(resident.ToByteArray(bigEndian: true)).ToArray();
        var expected = Base64Url.Encode(HMACSHA256.HashData(Keys.PseudonymKey, message));
        Assert.Equal(expected, Pseudonyms.For("fitness-club", grant, resident));
        Assert.Equal(43, expected.Length);
    }

    [Property]
    public Property Stable_per_recipient_and_different_between_recipients(Guid resident, NonEmptyString a, NonEmptyString b)
    {
        var first = a.Get.Replace('\0', 'x');
        var second = b.Get.Replace('\0', 'x');
        var same = Pseudonyms.For(first, Grant, resident) == Pseudonyms.For(first, Grant, resident);
        var differs = first == second || Pseudonyms.For(first, Grant, resident) != Pseudonyms.For(second, Grant, resident);
        return (same && differs).ToProperty();
    }

    [Property]
    public Property Stable_per_grant_and_different_between_grants(Guid resident, Guid one, Guid other) =>
        ((Pseudonyms.For("mall", one, resident) == Pseudonyms.For("mall", one, resident))
         && (one == other || Pseudonyms.For("mall", one, resident) != Pseudonyms.For("mall", other, resident))).ToProperty();

    [Property]
    public Property Different_residents_get_different_pseudonyms(Guid one, Guid other) =>
        (one == other || Pseudonyms.For("mall", Grant, one) != Pseudonyms.For("mall", Grant, other)).ToProperty();

    [Fact]
    public void Never_contains_the_internal_id_and_depends_on_the_key()
    {
        var resident = Guid.NewGuid();
        var pseudonym = Pseudonyms.For("research-institute", Grant, resident);
        Assert.DoesNotContain(resident.ToString("N"), pseudonym, StringComparison.OrdinalIgnoreCase);
        var otherServer = new RecipientPseudonyms(AccessKeys.Derive(RandomNumberGenerator.GetBytes(32)).PseudonymKey);
        Assert.NotEqual(pseudonym, otherServer.For("research-institute", Grant, resident));
    }

    [Fact]
    public void Recipient_ids_cannot_smuggle_the_separator()
    {
        // Without the check, "a\0…" could collide with recipient "a" for a crafted resident id.
        Assert.Throws<ArgumentException>(() => Pseudonyms.For("a\0b", Grant, Guid.NewGuid()));
        Assert.Throws<ArgumentException>(() => Pseudonyms.For("", Grant, Guid.NewGuid()));
    }

    [Fact]
    public void Keys_are_derived_apart_and_need_a_real_secret()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        var keys = AccessKeys.Derive(secret);
        Assert.NotEqual(keys.PseudonymKey, keys.CursorKey);
        Assert.Equal(keys.PseudonymKey, AccessKeys.Derive(secret).PseudonymKey);
        Assert.NotEqual(secret, keys.PseudonymKey);
        Assert.NotEqual(secret, keys.CursorKey);
        Assert.Throws<ArgumentException>(() => AccessKeys.Derive(new byte[31]));
        Assert.Throws<ArgumentException>(() => new RecipientPseudonyms(new byte[16]));
    }
}

using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using InfoBank.Core.Custody;

namespace InfoBank.Core.Tests.Custody;

public sealed class RecordSealTests
{
    private static readonly byte[] Key = RecordSeal.NewKey();
    private static readonly RecordBinding Binding = new(Guid.NewGuid(), Guid.NewGuid(), "steps.daily", 1);
    private static readonly byte[] Plain = Encoding.UTF8.GetBytes("{\"steps\":8123}");

    [Property]
    public Property Round_trips_any_plaintext(byte[] plaintext, NonEmptyString category, PositiveInt version)
    {
        var binding = new RecordBinding(Guid.NewGuid(), Guid.NewGuid(), category.Get, version.Get);
        var sealedValue = RecordSeal.Seal(Key, binding, plaintext);
        return (RecordSeal.Open(Key, binding, sealedValue).SequenceEqual(plaintext)
            && sealedValue.Length == plaintext.Length + RecordSeal.Overhead).ToProperty();
    }

    [Fact]
    public void Sealing_with_a_keyed_instance_opens_with_the_key()
    {
        using var aes = new System.Security.Cryptography.AesGcm(Key, RecordSeal.TagSize);
        var first = RecordSeal.Seal(aes, Binding, Plain);
        var second = RecordSeal.Seal(aes, Binding with { RecordId = Guid.NewGuid() }, Plain);
        Assert.Equal(Plain, RecordSeal.Open(Key, Binding, first));
        Assert.Throws<SealAuthenticationException>(() => RecordSeal.Open(Key, Binding, second));
    }

    [Fact]
    public void Sealing_twice_gives_different_ciphertexts()
    {
        Assert.NotEqual(RecordSeal.Seal(Key, Binding, Plain), RecordSeal.Seal(Key, Binding, Plain));
    }

    [Fact]
    public void Ciphertext_does_not_contain_the_plaintext()
    {
        var sealedValue = RecordSeal.Seal(Key, Binding, Plain);
        Assert.DoesNotContain("8123", Encoding.UTF8.GetString(sealedValue));
    }

    public static TheoryData<string> Rebindings => ["resident", "record", "category", "version"];

    [Theory]
    [MemberData(nameof(Rebindings))]
    public void Ciphertext_bound_elsewhere_fails_authentication(string change)
    {
        var sealedValue = RecordSeal.Seal(Key, Binding, Plain);
        var moved = change switch
        {
            "resident" => Binding with { ResidentId = Guid.NewGuid() },
            "record" => Binding with { RecordId = Guid.NewGuid() },
            "category" => Binding with { Category = "body.composition" },
            _ => Binding with { KeyVersion = 2 },
        };
        Assert.Throws<SealAuthenticationException>(() => RecordSeal.Open(Key, moved, sealedValue));
    }

    [Property]
    public Property Any_flipped_bit_is_detected(PositiveInt position, byte mask)
    {
        var sealedValue = RecordSeal.Seal(Key, Binding, Plain);
        var bit = (byte)(mask == 0 ? 1 : mask);
        sealedValue[position.Get % sealedValue.Length] ^= bit;
        try
        {
            RecordSeal.Open(Key, Binding, sealedValue);
            return false.ToProperty();
        }
        catch (SealAuthenticationException)
        {
            return true.ToProperty();
        }
    }

    [Fact]
    public void Wrong_key_or_truncated_value_fails_authentication()
    {
        var sealedValue = RecordSeal.Seal(Key, Binding, Plain);
        Assert.Throws<SealAuthenticationException>(() => RecordSeal.Open(RecordSeal.NewKey(), Binding, sealedValue));
        Assert.Throws<SealAuthenticationException>(() => RecordSeal.Open(Key, Binding, sealedValue.AsSpan(0, 20)));
    }

    [Fact]
    public void Blob_round_trips_and_carries_its_key_version()
    {
        var resident = Guid.NewGuid();
        var blob = RecordSeal.SealBlob(Key, 7, resident, "audit", Plain);
        Assert.Equal(7, RecordSeal.BlobKeyVersion(blob));
        Assert.Equal(Plain, RecordSeal.OpenBlob(Key, resident, "audit", blob));
        Assert.Throws<SealAuthenticationException>(() => RecordSeal.OpenBlob(Key, Guid.NewGuid(), "audit", blob));
        Assert.Throws<SealAuthenticationException>(() => RecordSeal.OpenBlob(Key, resident, "export", blob));
        blob[3] = 8; // claim another key version
        Assert.Throws<SealAuthenticationException>(() => RecordSeal.OpenBlob(Key, resident, "audit", blob));
    }

    [Fact]
    public void A_record_is_not_accepted_as_a_blob_or_back()
    {
        var resident = Guid.NewGuid();
        var record = RecordSeal.Seal(Key, Binding with { ResidentId = resident }, Plain);
        Assert.Throws<SealAuthenticationException>(() => RecordSeal.OpenBlob(Key, resident, "audit", [0, 0, 0, 1, .. record]));
        var blob = RecordSeal.SealBlob(Key, 1, resident, "audit", Plain);
        Assert.Throws<SealAuthenticationException>(() => RecordSeal.Open(Key, Binding with { ResidentId = resident }, blob.AsSpan(4)));
    }
}

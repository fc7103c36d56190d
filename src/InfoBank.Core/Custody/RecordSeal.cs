using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace InfoBank.Core.Custody;

/// <summary>
/// What a sealed record is bound to. All of it goes into the AES-GCM associated data, so a
/// ciphertext copied to another row, resident, category or key version fails authentication.
/// </summary>
/// <param name="ResidentId">The resident whose data key sealed the record.</param>
/// <param name="RecordId">The record's row id.</param>
/// <param name="Category">The inventory category (for example <c>steps.daily</c>).</param>
/// <param name="KeyVersion">The version of the resident's data key used.</param>
public readonly record struct RecordBinding(Guid ResidentId, Guid RecordId, string Category, int KeyVersion);

/// <summary>Authentication of a sealed value failed: it was altered, moved, or the key is wrong.</summary>
public sealed class SealAuthenticationException(string message, Exception? inner = null) : CryptographicException(message, inner);

/// <summary>
/// AES-256-GCM sealing of residents' records and personal blobs under a resident's data key (DEK).
/// Layout: <c>format (1) ‖ nonce (12) ‖ ciphertext ‖ tag (16)</c>; the format byte is authenticated
/// too. Nonces are random: a DEK seals far fewer than 2^32 values before it is rotated.
/// </summary>
public static class RecordSeal
{
    /// <summary>Format 1: a deposited record bound to (format, category, resident, record id, key version).</summary>
    public const byte RecordFormat = 1;

    /// <summary>Format 2: a personal blob (for example an audit entry's personal data) bound to (format, resident, context, key version).</summary>
    public const byte BlobFormat = 2;

    public const int KeySize = 32;
    public const int NonceSize = 12;
    public const int TagSize = 16;
    public const int Overhead = 1 + NonceSize + TagSize;

    /// <summary>A new random 256-bit data key.</summary>
    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(KeySize);

    /// <summary>Seals a record's plaintext under <paramref name="key"/>, bound to <paramref name="binding"/>.</summary>
    public static byte[] Seal(ReadOnlySpan<byte> key, in RecordBinding binding, ReadOnlySpan<byte> plaintext)
    {
        Span<byte> aad = stackalloc byte[AadLength(binding.Category)];
        WriteRecordAad(aad, binding);
        return SealCore(key, RecordFormat, aad, plaintext);
    }

    /// <summary>
    /// Seals with an <see cref="AesGcm"/> already keyed with the resident's key, so a batch of one
    /// resident's records sets the key schedule up once (not thread-safe: one instance per thread).
    /// </summary>
    public static byte[] Seal(AesGcm keyed, in RecordBinding binding, ReadOnlySpan<byte> plaintext)
    {
        Span<byte> nonce = stackalloc byte[NonceSize];
        RandomNumberGenerator.Fill(nonce);
        return Seal(keyed, binding, nonce, plaintext);
    }

    /// <summary>
    /// Seals with a caller-supplied <paramref name="nonce"/>, which must be fresh output of a
    /// cryptographic random generator and never reused under the key. A batch draws all its nonces
    /// with one call to the generator: one call per record costs more than the encryption itself.
    /// </summary>
    public static byte[] Seal(AesGcm keyed, in RecordBinding binding, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> plaintext)
    {
        if (nonce.Length != NonceSize)
        {
            throw new ArgumentException($"A nonce is {NonceSize} bytes.", nameof(nonce));
        }
        Span<byte> aad = stackalloc byte[AadLength(binding.Category)];
        WriteRecordAad(aad, binding);
        var output = new byte[Overhead + plaintext.Length];
        output[0] = RecordFormat;
        nonce.CopyTo(output.AsSpan(1, NonceSize));
        keyed.Encrypt(nonce, plaintext, output.AsSpan(1 + NonceSize, plaintext.Length), output.AsSpan(1 + NonceSize + plaintext.Length, TagSize), aad);
        return output;
    }

    /// <summary>Opens a sealed record; throws <see cref="SealAuthenticationException"/> if it was altered or bound elsewhere.</summary>
    public static byte[] Open(ReadOnlySpan<byte> key, in RecordBinding binding, ReadOnlySpan<byte> sealedValue)
    {
        Span<byte> aad = stackalloc byte[AadLength(binding.Category)];
        WriteRecordAad(aad, binding);
        return OpenCore(key, RecordFormat, aad, sealedValue);
    }

    /// <summary>
    /// Seals a small personal blob (for example an audit entry's <c>SealedPersonalData</c>) under the
    /// resident's key. The key version travels in clear ahead of the blob (and is authenticated) so a
    /// reader knows which key to ask for; <paramref name="context"/> names what the blob is for.
    /// Crypto-shredding the resident's keys makes the blob unreadable while the bytes (and any hash over
    /// them) stay intact.
    /// </summary>
    public static byte[] SealBlob(ReadOnlySpan<byte> key, int keyVersion, Guid residentId, string context, ReadOnlySpan<byte> plaintext)
    {
        var aad = BlobAad(keyVersion, residentId, context);
        var body = SealCore(key, BlobFormat, aad, plaintext);
        var result = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(result, keyVersion);
        body.CopyTo(result, 4);
        return result;
    }

    /// <summary>The key version a blob from <see cref="SealBlob"/> was sealed with.</summary>
    public static int BlobKeyVersion(ReadOnlySpan<byte> blob) =>
        blob.Length >= 4 + Overhead
            ? BinaryPrimitives.ReadInt32BigEndian(blob)
            : throw new SealAuthenticationException("The sealed blob is too short.");

    public static byte[] OpenBlob(ReadOnlySpan<byte> key, Guid residentId, string context, ReadOnlySpan<byte> blob)
    {
        var keyVersion = BlobKeyVersion(blob);
        return OpenCore(key, BlobFormat, BlobAad(keyVersion, residentId, context), blob[4..]);
    }

    private static byte[] SealCore(ReadOnlySpan<byte> key, byte format, ReadOnlySpan<byte> aad, ReadOnlySpan<byte> plaintext)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException("A data key is 32 bytes.", nameof(key));
        }
        var output = new byte[Overhead + plaintext.Length];
        output[0] = format;
        var nonce = output.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plaintext, output.AsSpan(1 + NonceSize, plaintext.Length), output.AsSpan(1 + NonceSize + plaintext.Length, TagSize), aad);
        return output;
    }

    private static byte[] OpenCore(ReadOnlySpan<byte> key, byte format, ReadOnlySpan<byte> aad, ReadOnlySpan<byte> sealedValue)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException("A data key is 32 bytes.", nameof(key));
        }
        if (sealedValue.Length < Overhead)
        {
            throw new SealAuthenticationException("The sealed value is too short.");
        }
        if (sealedValue[0] != format)
        {
            throw new SealAuthenticationException($"Unknown sealed format {sealedValue[0]} (expected {format}).");
        }
        var length = sealedValue.Length - Overhead;
        var plaintext = new byte[length];
        try
        {
            using var aes = new AesGcm(key, TagSize);
            aes.Decrypt(sealedValue.Slice(1, NonceSize), sealedValue.Slice(1 + NonceSize, length), sealedValue.Slice(1 + NonceSize + length, TagSize), plaintext, aad);
        }
        catch (AuthenticationTagMismatchException e)
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw new SealAuthenticationException("The sealed value failed authentication: it was altered, moved to another row, or the key is wrong.", e);
        }
        return plaintext;
    }

    // AAD: format ‖ key version (BE int32) ‖ resident (16) ‖ record id (16) ‖ category (UTF-8).
    // Every element but the last has a fixed length, so the encoding is unambiguous.
    private static int AadLength(string category) => 1 + 4 + 16 + 16 + Encoding.UTF8.GetByteCount(category);

    private static void WriteRecordAad(Span<byte> aad, in RecordBinding binding)
    {
        aad[0] = RecordFormat;
        BinaryPrimitives.WriteInt32BigEndian(aad[1..], binding.KeyVersion);
        binding.ResidentId.TryWriteBytes(aad.Slice(5, 16), bigEndian: true, out _);
        binding.RecordId.TryWriteBytes(aad.Slice(21, 16), bigEndian: true, out _);
        Encoding.UTF8.GetBytes(binding.Category, aad[37..]);
    }

    private static byte[] BlobAad(int keyVersion, Guid residentId, string context)
    {
        var aad = new byte[1 + 4 + 16 + Encoding.UTF8.GetByteCount(context)];
        aad[0] = BlobFormat;
        BinaryPrimitives.WriteInt32BigEndian(aad.AsSpan(1), keyVersion);
        residentId.TryWriteBytes(aad.AsSpan(5, 16), bigEndian: true, out _);
        Encoding.UTF8.GetBytes(context, aad.AsSpan(21));
        return aad;
    }
}

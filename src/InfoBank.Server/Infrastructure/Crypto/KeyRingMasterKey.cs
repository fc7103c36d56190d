using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace InfoBank.Server.Infrastructure.Crypto;

/// <summary>
/// The 256-bit key that protects the DataProtection key ring at rest. It lives in a file outside
/// the database (created on first use, readable by the owner only), so a copy of the database alone
/// cannot unwrap residents' data keys: the key ring in it is ciphertext without this file.
/// Losing the file loses every resident's data; back it up separately from the database.
/// </summary>
public sealed class KeyRingMasterKey
{
    private KeyRingMasterKey(byte[] key)
    {
        Key = key;
        Id = Convert.ToHexStringLower(SHA256.HashData(key).AsSpan(0, 8));
    }

    internal byte[] Key { get; }

    /// <summary>A short non-secret fingerprint recorded next to each encrypted key, to name a wrong file clearly.</summary>
    public string Id { get; }

    /// <summary>Reads the master key file, creating it (mode 0600, folder 0700) when it does not exist.</summary>
    public static KeyRingMasterKey LoadOrCreate(string path)
    {
        var key = SecretFile.ReadOrCreate(path, "key-ring master key");
        return key.Length == 32
            ? new KeyRingMasterKey(key)
            : throw new InvalidOperationException($"The key-ring master key file {Path.GetFullPath(path)} must hold 32 bytes (base64).");
    }

    internal static readonly byte[] Aad = Encoding.ASCII.GetBytes("InfoBank.KeyRing.v1");
}

/// <summary>Encrypts each DataProtection key element with AES-256-GCM under the <see cref="KeyRingMasterKey"/>.</summary>
public sealed class MasterKeyXmlEncryptor(Func<KeyRingMasterKey> masterKey) : IXmlEncryptor
{
    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var master = masterKey();
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var output = new byte[12 + plaintext.Length + 16];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using (var aes = new AesGcm(master.Key, 16))
        {
            aes.Encrypt(output.AsSpan(0, 12), plaintext, output.AsSpan(12, plaintext.Length), output.AsSpan(12 + plaintext.Length), KeyRingMasterKey.Aad);
        }
        CryptographicOperations.ZeroMemory(plaintext);
        var element = new XElement("encryptedKey",
            new XComment(" Encrypted with the InfoBank key-ring master key (Custody:MasterKeyFile), which is kept outside the database. "),
            new XElement("masterKeyId", master.Id),
            new XElement("value", Convert.ToBase64String(output)));
        return new EncryptedXmlInfo(element, typeof(MasterKeyXmlDecryptor));
    }
}

/// <summary>Decrypts key elements written by <see cref="MasterKeyXmlEncryptor"/>; DataProtection activates it with the app's services.</summary>
public sealed class MasterKeyXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        var master = services.GetRequiredService<KeyRingMasterKey>();
        var id = (string?)encryptedElement.Element("masterKeyId");
        if (id != master.Id)
        {
            throw new CryptographicException($"The key ring was encrypted with master key {id}, but the configured master key file is {master.Id}.");
        }
        var data = Convert.FromBase64String((string?)encryptedElement.Element("value") ?? "");
        if (data.Length < 28)
        {
            throw new CryptographicException("The encrypted key element is truncated.");
        }
        var plaintext = new byte[data.Length - 28];
        using (var aes = new AesGcm(master.Key, 16))
        {
            aes.Decrypt(data.AsSpan(0, 12), data.AsSpan(12, plaintext.Length), data.AsSpan(12 + plaintext.Length), plaintext, KeyRingMasterKey.Aad);
        }
        var element = XElement.Parse(Encoding.UTF8.GetString(plaintext));
        CryptographicOperations.ZeroMemory(plaintext);
        return element;
    }
}

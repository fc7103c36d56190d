using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using InfoBank.Core.Crypto;

namespace InfoBank.Core.Audit;

/// <summary>
/// A C2SP signed-note verifier key for Ed25519: key name, 4-byte key id
/// (SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]) and the 32-byte public key. Its text form is the
/// Go <c>note</c> package's verifier key, <c>name+hex(key id)+base64(0x01 ‖ public key)</c>.
/// </summary>
public sealed record NoteVerifier(string Name, uint KeyId, byte[] PublicKey)
{
    public const byte Ed25519Type = 0x01;

    public static NoteVerifier For(string name, byte[] publicKey)
    {
        ValidateName(name);
        if (publicKey.Length != Ed25519Key.PublicKeyLength)
        {
            throw new ArgumentException("An Ed25519 public key is 32 bytes.", nameof(publicKey));
        }
        return new NoteVerifier(name, ComputeKeyId(name, publicKey), publicKey);
    }

    /// <summary>The key id of the C2SP recommendation for Ed25519 keys.</summary>
    public static uint ComputeKeyId(string name, ReadOnlySpan<byte> publicKey)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var input = new byte[nameBytes.Length + 2 + publicKey.Length];
        nameBytes.CopyTo(input, 0);
        input[nameBytes.Length] = 0x0A;
        input[nameBytes.Length + 1] = Ed25519Type;
        publicKey.CopyTo(input.AsSpan(nameBytes.Length + 2));
        return BinaryPrimitives.ReadUInt32BigEndian(SHA256.HashData(input));
    }

    /// <summary>The vkey text: <c>name+keyid(hex, 8 digits)+base64(0x01 ‖ public key)</c>.</summary>
    public string VerifierKey => $"{Name}+{KeyId:x8}+{Convert.ToBase64String([Ed25519Type, .. PublicKey])}";

    /// <summary>Parses a vkey; null (with a reason) if it is malformed or its id does not match its key.</summary>
    public static NoteVerifier? TryParse(string text, out string? error)
    {
        error = null;
        var parts = text.Trim().Split('+', 3);
        if (parts.Length != 3)
        {
            error = "a verifier key has the form name+keyid+base64key";
            return null;
        }
        byte[] key;
        try
        {
            key = Convert.FromBase64String(parts[2]);
        }
        catch (FormatException)
        {
            error = "the verifier key's public key is not base64";
            return null;
        }
        if (key.Length != 33 || key[0] != Ed25519Type)
        {
            error = "only Ed25519 verifier keys (type 0x01, 32 bytes) are supported";
            return null;
        }
        if (!uint.TryParse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var id) || parts[1].Length != 8)
        {
            error = "the verifier key's id is not 8 hex digits";
            return null;
        }
        if (parts[0].Length == 0 || parts[0].Any(char.IsWhiteSpace))
        {
            error = "the verifier key's name is empty or has whitespace";
            return null;
        }
        var verifier = new NoteVerifier(parts[0], id, key[1..]);
        if (ComputeKeyId(verifier.Name, verifier.PublicKey) != id)
        {
            error = "the verifier key's id does not match its name and public key";
            return null;
        }
        return verifier;
    }

    internal static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Any(c => char.IsWhiteSpace(c) || c == '+'))
        {
            throw new ArgumentException("A note key name is non-empty with no whitespace and no '+'.", nameof(name));
        }
    }
}

/// <summary>One signature line of a note: key name, key id and raw signature.</summary>
public sealed record NoteSignature(string KeyName, uint KeyId, byte[] Signature);

/// <summary>
/// C2SP signed-note: UTF-8 text ending in a newline, a blank line, then signature lines
/// <c>— name base64(key id ‖ signature)</c>. Ed25519 signs the text, final newline included.
/// </summary>
public sealed record SignedNote(string Text, IReadOnlyList<NoteSignature> Signatures)
{
    private const string Dash = "\u2014 ";

    public static SignedNote Sign(string text, string keyName, Ed25519Key key)
    {
        NoteVerifier.ValidateName(keyName);
        if (!text.EndsWith('\n') || text.Any(c => c < 0x20 && c != '\n'))
        {
            throw new ArgumentException("A note's text ends with a newline and holds no control characters.", nameof(text));
        }
        var signature = key.Sign(Encoding.UTF8.GetBytes(text));
        return new SignedNote(text, [new NoteSignature(keyName, NoteVerifier.ComputeKeyId(keyName, key.PublicKey), signature)]);
    }

    public override string ToString()
    {
        var builder = new StringBuilder(Text).Append('\n');
        foreach (var s in Signatures)
        {
            var blob = new byte[4 + s.Signature.Length];
            BinaryPrimitives.WriteUInt32BigEndian(blob, s.KeyId);
            s.Signature.CopyTo(blob, 4);
            builder.Append(Dash).Append(s.KeyName).Append(' ').Append(Convert.ToBase64String(blob)).Append('\n');
        }
        return builder.ToString();
    }

    /// <summary>Parses a signed note; null with a reason if it is not one.</summary>
    public static SignedNote? TryParse(string note, out string? error)
    {
        error = null;
        var split = note.LastIndexOf("\n\n", StringComparison.Ordinal);
        if (split < 0 || !note.EndsWith('\n'))
        {
            error = "a signed note is text, a blank line and signature lines, ending in a newline";
            return null;
        }
        if (note.Any(c => c < 0x20 && c != '\n'))
        {
            error = "a signed note holds no control characters other than newline";
            return null;
        }
        var text = note[..(split + 1)];
        var signatures = new List<NoteSignature>();
        foreach (var line in note[(split + 2)..].Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!line.StartsWith(Dash, StringComparison.Ordinal))
            {
                error = "a signature line starts with an em dash and a space";
                return null;
            }
            var parts = line[Dash.Length..].Split(' ');
            byte[] blob;
            try
            {
                blob = parts.Length == 2 ? Convert.FromBase64String(parts[1]) : [];
            }
            catch (FormatException)
            {
                blob = [];
            }
            if (parts.Length != 2 || parts[0].Length == 0 || blob.Length < 5)
            {
                error = "a signature line is '— name base64(keyid ‖ signature)'";
                return null;
            }
            signatures.Add(new NoteSignature(parts[0], BinaryPrimitives.ReadUInt32BigEndian(blob), blob[4..]));
        }
        if (signatures.Count == 0)
        {
            error = "the note carries no signature";
            return null;
        }
        return new SignedNote(text, signatures);
    }

    /// <summary>
    /// The verifiers among <paramref name="known"/> that produced a valid signature on this note.
    /// Signatures from unknown keys are ignored; a signature from a known key that fails makes the
    /// whole note invalid (returns empty), as the C2SP spec recommends.
    /// </summary>
    public IReadOnlyList<NoteVerifier> VerifiedBy(IEnumerable<NoteVerifier> known)
    {
        var message = Encoding.UTF8.GetBytes(Text);
        var verified = new List<NoteVerifier>();
        foreach (var signature in Signatures)
        {
            var key = known.FirstOrDefault(k => k.Name == signature.KeyName && k.KeyId == signature.KeyId);
            if (key is null)
            {
                continue;
            }
            if (!Ed25519Key.Verify(key.PublicKey, message, signature.Signature))
            {
                return [];
            }
            verified.Add(key);
        }
        return verified;
    }
}

/// <summary>
/// A C2SP tlog-checkpoint: the note text <c>origin\nsize\nbase64(root)\n</c> (plus optional
/// extension lines, which we neither write nor require), signed as a <see cref="SignedNote"/>.
/// </summary>
public sealed record Checkpoint(string Origin, long Size, byte[] Root)
{
    public string Text => $"{Origin}\n{Size.ToString(CultureInfo.InvariantCulture)}\n{Convert.ToBase64String(Root)}\n";

    public SignedNote Sign(string keyName, Ed25519Key key) => SignedNote.Sign(Text, keyName, key);

    /// <summary>Reads the checkpoint body of a note's text; null with a reason if malformed.</summary>
    public static Checkpoint? TryParse(string text, out string? error)
    {
        error = null;
        var lines = text.Split('\n');
        // "a\nb\nc\n" splits into four parts, the last empty.
        if (lines.Length < 4 || lines[^1].Length != 0)
        {
            error = "a checkpoint has an origin, a tree size and a root hash line";
            return null;
        }
        if (lines[0].Length == 0)
        {
            error = "the checkpoint's origin line is empty";
            return null;
        }
        if (!long.TryParse(lines[1], NumberStyles.None, CultureInfo.InvariantCulture, out var size) || (lines[1].Length > 1 && lines[1][0] == '0'))
        {
            error = "the checkpoint's tree size is not a decimal number";
            return null;
        }
        byte[] root;
        try
        {
            root = Convert.FromBase64String(lines[2]);
        }
        catch (FormatException)
        {
            root = [];
        }
        if (root.Length != Merkle.HashSize)
        {
            error = "the checkpoint's root hash is not 32 bytes of base64";
            return null;
        }
        return new Checkpoint(lines[0], size, root);
    }
}

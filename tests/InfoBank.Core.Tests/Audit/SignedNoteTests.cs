using System.Text;
using InfoBank.Core.Audit;
using InfoBank.Core.Crypto;

namespace InfoBank.Core.Tests.Audit;

public sealed class SignedNoteTests
{
    [Fact]
    public void Verifies_the_Go_note_package_example()
    {
        // golang.org/x/mod/sumdb/note's documented example key and signed note.
        var verifier = NoteVerifier.TryParse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", out var error);
        Assert.Null(error);
        var note = SignedNote.TryParse(
            "If you think cryptography is the answer to your problem,\n" +
            "then you don't know what your problem is.\n" +
            "\n" +
            "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n", out error);
        Assert.Null(error);
        Assert.Equal([verifier!], note!.VerifiedBy([verifier!]));
    }

    [Fact]
    public void A_checkpoint_round_trips_in_the_tlog_checkpoint_format()
    {
        var key = Ed25519Key.Generate();
        var root = Merkle.LeafHash("x"u8);
        var note = new Checkpoint("example.com/log", 42, root).Sign("example.com/log", key);
        var text = note.ToString();

        Assert.StartsWith($"example.com/log\n42\n{Convert.ToBase64String(root)}\n\n\u2014 example.com/log ", text);
        var parsed = SignedNote.TryParse(text, out _)!;
        var checkpoint = Checkpoint.TryParse(parsed.Text, out _)!;
        Assert.Equal(42, checkpoint.Size);
        Assert.Equal(root, checkpoint.Root);
        var verifier = NoteVerifier.For("example.com/log", key.PublicKey);
        Assert.Single(parsed.VerifiedBy([verifier]));
        Assert.Equal(verifier.VerifierKey, NoteVerifier.TryParse(verifier.VerifierKey, out _)!.VerifierKey);
    }

    [Fact]
    public void Changed_text_another_key_or_a_bad_vkey_fail()
    {
        var key = Ed25519Key.Generate();
        var verifier = NoteVerifier.For("log", key.PublicKey);
        var note = new Checkpoint("log", 7, new byte[32]).Sign("log", key).ToString();

        var altered = SignedNote.TryParse(note.Replace("\n7\n", "\n8\n", StringComparison.Ordinal), out _)!;
        Assert.Empty(altered.VerifiedBy([verifier]));
        Assert.Empty(SignedNote.TryParse(note, out _)!.VerifiedBy([NoteVerifier.For("log", Ed25519Key.Generate().PublicKey)]));

        Assert.Null(NoteVerifier.TryParse(verifier.VerifierKey.Replace("+", "+0", StringComparison.Ordinal), out var error));
        Assert.NotNull(error);
        var wrongId = $"log+00000000+{Convert.ToBase64String([1, .. key.PublicKey])}";
        Assert.Null(NoteVerifier.TryParse(wrongId, out error));
        Assert.Contains("does not match", error);
        Assert.Null(SignedNote.TryParse("no signature\n", out _));
        Assert.Null(Checkpoint.TryParse("log\n-1\nAAAA\n", out _));
    }

    [Fact]
    public void Key_id_is_the_first_four_bytes_of_the_hash_of_name_newline_type_and_key()
    {
        var key = Ed25519Key.Generate();
        var input = Encoding.UTF8.GetBytes("log").Concat(new byte[] { 0x0A, 0x01 }).Concat(key.PublicKey).ToArray();
        var hash = System.Security.Cryptography.SHA256.HashData(input);
        Assert.Equal(System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(hash), NoteVerifier.ComputeKeyId("log", key.PublicKey));
    }
}

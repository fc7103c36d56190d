using System.Net;
using System.Text.Json;
using InfoBank.Core.Crypto;
using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Tests.Keys;

public sealed class SigningKeyStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "infobank-keys-" + Guid.NewGuid().ToString("N"));

    private SigningKeyStore NewStore() => new(
        Options.Create(new SigningOptions { KeyDirectory = _directory }), TimeProvider.System, NullLogger<SigningKeyStore>.Instance);

    [Fact]
    public async Task First_use_generates_one_key_per_purpose_and_later_calls_reuse_it()
    {
        var store = NewStore();
        var receipt = await store.GetCurrentAsync(SigningKeyPurposes.Receipt);
        var checkpoint = await store.GetCurrentAsync(SigningKeyPurposes.Checkpoint);
        Assert.NotEqual(receipt.KeyId, checkpoint.KeyId);
        Assert.Equal(receipt.KeyId, (await store.GetCurrentAsync(SigningKeyPurposes.Receipt)).KeyId);
        Assert.Equal(2, Directory.GetFiles(_directory).Length);
    }

    [Fact]
    public async Task Keys_survive_a_restart_and_sign_identically()
    {
        var first = await NewStore().GetCurrentAsync(SigningKeyPurposes.Receipt);
        var reloaded = await NewStore().GetCurrentAsync(SigningKeyPurposes.Receipt);
        Assert.Equal(first.KeyId, reloaded.KeyId);
        Assert.Equal(first.Key.Sign([1, 2, 3]), reloaded.Key.Sign([1, 2, 3]));
    }

    [Fact]
    public async Task Key_files_are_readable_by_the_owner_only()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }
        await NewStore().GetCurrentAsync(SigningKeyPurposes.Receipt);
        foreach (var file in Directory.GetFiles(_directory))
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
    }

    [Fact]
    public async Task Rotation_retires_the_old_key_but_keeps_it_for_verification()
    {
        var store = NewStore();
        var old = await store.GetCurrentAsync(SigningKeyPurposes.Receipt);
        var checkpoint = await store.GetCurrentAsync(SigningKeyPurposes.Checkpoint);
        var rotated = await store.RotateAsync(SigningKeyPurposes.Receipt);

        Assert.NotEqual(old.KeyId, rotated.KeyId);
        Assert.Equal(rotated.KeyId, (await store.GetCurrentAsync(SigningKeyPurposes.Receipt)).KeyId);
        Assert.Equal(checkpoint.KeyId, (await store.GetCurrentAsync(SigningKeyPurposes.Checkpoint)).KeyId);

        var retired = await store.FindAsync(old.KeyId);
        Assert.NotNull(retired);
        Assert.False(retired.IsCurrent);

        // Another process (a fresh store on the same folder) sees the same picture.
        var other = await NewStore().ListAsync();
        Assert.Equal(3, other.Count);
        Assert.Single(other, k => k.Purpose == SigningKeyPurposes.Receipt && k.IsCurrent && k.KeyId == rotated.KeyId);
        Assert.Single(other, k => k.KeyId == old.KeyId && !k.IsCurrent);
    }

    [Fact]
    public async Task Rotation_by_another_process_is_picked_up()
    {
        var server = NewStore();
        var before = await server.GetCurrentAsync(SigningKeyPurposes.Receipt);
        var rotated = await NewStore().RotateAsync(SigningKeyPurposes.Receipt);
        Assert.NotEqual(before.KeyId, rotated.KeyId);
        Assert.Equal(rotated.KeyId, (await server.GetCurrentAsync(SigningKeyPurposes.Receipt)).KeyId);
    }

    [Fact]
    public async Task A_file_whose_seed_does_not_match_its_key_id_is_refused()
    {
        var store = NewStore();
        var key = await store.GetCurrentAsync(SigningKeyPurposes.Receipt);
        var path = Directory.GetFiles(_directory).Single();
        var text = File.ReadAllText(path).Replace(key.KeyId, Ed25519Key.Generate().KeyId, StringComparison.Ordinal);
        File.WriteAllText(path, text);
        await Assert.ThrowsAsync<InvalidDataException>(() => NewStore().ListAsync());
    }

    [Fact]
    public async Task Unknown_purpose_is_refused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => NewStore().GetCurrentAsync("billing"));
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}

public sealed class KeysApiTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    [Fact]
    public async Task Jwks_is_public_and_lists_current_and_retired_ed25519_keys()
    {
        var client = factory.CreateClient();
        var store = (SigningKeyStore)factory.Services.GetService(typeof(SigningKeyStore))!;
        var old = await store.GetCurrentAsync(SigningKeyPurposes.Receipt);
        await store.RotateAsync(SigningKeyPurposes.Receipt);

        var response = await client.GetAsync("/api/v1/keys");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var keys = doc.RootElement.GetProperty("keys").EnumerateArray().ToList();

        Assert.Contains(keys, k => k.GetProperty("purpose").GetString() == "checkpoint" && k.GetProperty("status").GetString() == "current");
        Assert.Contains(keys, k => k.GetProperty("purpose").GetString() == "receipt" && k.GetProperty("status").GetString() == "current");
        Assert.Contains(keys, k => k.GetProperty("kid").GetString() == old.KeyId && k.GetProperty("status").GetString() == "retired");
        foreach (var key in keys)
        {
            Assert.Equal("OKP", key.GetProperty("kty").GetString());
            Assert.Equal("Ed25519", key.GetProperty("crv").GetString());
            Assert.Equal("EdDSA", key.GetProperty("alg").GetString());
            Assert.Equal("sig", key.GetProperty("use").GetString());
            Assert.False(key.TryGetProperty("d", out _));
            // The kid is the RFC 7638 thumbprint, recomputable from the published x alone.
            var x = Base64Url.TryDecode(key.GetProperty("x").GetString()!)!;
            Assert.Equal(Ed25519Key.Thumbprint(x), key.GetProperty("kid").GetString());
        }
    }
}

using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>Shared pieces of the HTTP hardening tests.</summary>
internal static class HardeningKit
{
    /// <summary>Asserts a problem answer of the given registry type (its slug) and returns its body.</summary>
    public static async Task<JsonElement> AssertProblemType(HttpResponseMessage response, HttpStatusCode status, string slug)
    {
        var problem = await HostTests.AssertProblem(response, status);
        Assert.Equal("/problems/" + slug, problem.GetProperty("type").GetString());
        return problem;
    }

    /// <summary>Enrols the resident behind <paramref name="resident"/> (agreeing to the current custody terms).</summary>
    public static async Task EnrolAsync(HttpClient resident)
    {
        var terms = await resident.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
        var response = await resident.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = terms.GetProperty("version").GetString(),
            termsHash = terms.GetProperty("hash").GetString(),
            agree = true,
        });
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    public static async Task<string> EnrollmentStatusAsync(HttpClient resident)
    {
        var profile = await resident.GetFromJsonAsync<JsonElement>("/api/v1/me");
        return profile.GetProperty("enrollment").GetProperty("status").GetString()!;
    }
}

/// <summary>
/// A request body that sends a first chunk and then never ends: a server that waits for the whole
/// body never answers, so a prompt answer proves it did not read it.
/// </summary>
internal sealed class EndlessStream : Stream
{
    private bool _sentFirst;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!_sentFirst)
        {
            _sentFirst = true;
            "{\"records\":["u8.CopyTo(buffer.Span);
            return 12;
        }
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return 0;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("async only");

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

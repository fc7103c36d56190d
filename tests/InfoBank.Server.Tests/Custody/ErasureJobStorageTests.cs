using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hangfire;
using InfoBank.Server.Features.Custody;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Custody;

/// <summary>
/// Several hosts in one process (as the test suite runs them) must not share Hangfire storage: an
/// erasure's sweep used to be enqueued through the process-wide <c>JobStorage.Current</c>, which the
/// last host to start owned and disposed on shutdown, and DELETE /api/v1/me then failed now and again.
/// </summary>
public sealed class ErasureJobStorageTests
{
    [Fact]
    public async Task Each_host_enqueues_the_erasure_sweep_in_its_own_job_storage_after_another_host_is_gone()
    {
        using var host = new InfoBankFactory();
        var storage = host.Services.GetRequiredService<JobStorage>();
        using (var other = new InfoBankFactory())
        {
            // The host started last once owned the process-wide storage the earlier hosts' clients wrote to.
            var otherStorage = other.Services.GetRequiredService<JobStorage>();
            Assert.NotSame(storage, otherStorage);
            Assert.NotSame(otherStorage, ProcessWideStorage());
        }
        Assert.NotSame(storage, ProcessWideStorage());

        var (resident, token) = await host.SignInAsync(AccountKind.Resident);
        using var http = host.CreateClientWithToken(token);
        var terms = await http.GetFromJsonAsync<JsonElement>("/api/v1/custody/terms");
        var enrolled = await http.PostAsJsonAsync("/api/v1/me/enrollment", new
        {
            termsVersion = terms.GetProperty("version").GetString(),
            termsHash = terms.GetProperty("hash").GetString(),
            agree = true,
        });
        Assert.Equal(HttpStatusCode.Created, enrolled.StatusCode);

        var erased = await host.EraseAsync(http, resident);
        Assert.Equal(HttpStatusCode.OK, erased.StatusCode);
        var erasureId = (await erased.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("erasureId").GetGuid();

        var queued = storage.GetMonitoringApi().EnqueuedJobs("default", 0, 100);
        Assert.Contains(queued, job =>
            job.Value.Job.Method.Name == nameof(CustodyJobs.SweepErasureAsync) && job.Value.Job.Args[0] is Guid id && id == erasureId);
    }

    private static JobStorage? ProcessWideStorage()
    {
        try
        {
            return JobStorage.Current;
        }
        catch (InvalidOperationException)
        {
            // Never set: no host published its storage process-wide.
            return null;
        }
    }
}

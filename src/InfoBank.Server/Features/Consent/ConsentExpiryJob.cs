using Hangfire;
using InfoBank.Server.Infrastructure.Jobs;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Consent;

/// <summary>Moves consents past their validity to ConsentExpired, every few minutes (idempotent, no arguments).</summary>
public sealed class ConsentExpiryJob(ConsentService consents)
{
    public const string Id = "consent-expiry";

    public Task<int> RunAsync(CancellationToken cancellationToken = default) => consents.ExpireDueAsync(cancellationToken);
}

internal sealed class ConsentJobsSetup(IOptions<ConsentOptions> options) : IRecurringJobSetup
{
    public void Register(IRecurringJobManager jobs) =>
        jobs.AddOrUpdate<ConsentExpiryJob>(ConsentExpiryJob.Id, job => job.RunAsync(CancellationToken.None), options.Value.ExpiryCron);
}

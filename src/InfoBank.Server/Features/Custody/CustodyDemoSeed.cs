using System.Text.Json;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Demo;

namespace InfoBank.Server.Features.Custody;

/// <summary>
/// The demo residents enrol, link the step-count app (steps) and the body-composition scale (body
/// composition), and those sources deposit 30 days of steps and a weekly measurement through the
/// same deposit service the HTTP endpoint calls. Record ids are deterministic, so a re-run only adds
/// the days that are new; a resident who erased their data is left alone.
/// </summary>
internal sealed class CustodyDemoSeed(
    AccountStore accounts,
    CustodyStore store,
    ResidentCustodyService custody,
    DepositService deposits,
    TimeProvider time) : IDemoSeedPart
{
    private const string StepsSource = "source-kenko-steps";
    private const string ScaleSource = "source-body-scale";

    public int Order => 20;

    public async Task SeedAsync(DemoSeedContext context, CancellationToken cancellationToken)
    {
        var today = new DateTimeOffset(time.GetUtcNow().UtcDateTime.Date, TimeSpan.Zero);
        var residents = IdentityDemoSeed.People.Where(p => p.Kind == AccountKind.Resident).ToList();
        var enrolled = 0;
        for (var n = 0; n < residents.Count; n++)
        {
            var username = residents[n].Username;
            if (await accounts.FindByUsernameAsync(username, cancellationToken) is not { } found)
            {
                continue;
            }
            var residentId = found.Account.Id;
            var existing = await store.FindResidentAsync(residentId, cancellationToken);
            if (existing?.Status == ResidentStatus.Erased)
            {
                continue;
            }
            if (existing is null)
            {
                await custody.EnrolAsync(residentId, CustodyTerms.Current, cancellationToken);
            }
            var links = await store.ListLinksAsync(residentId, cancellationToken);
            var stepsRef = links.FirstOrDefault(l => l.ClientId == StepsSource)?.ResidentRef
                ?? (await custody.LinkAsync(residentId, StepsSource, ["steps.daily"], cancellationToken)).Value?.Link.ResidentRef;
            var scaleRef = links.FirstOrDefault(l => l.ClientId == ScaleSource)?.ResidentRef
                ?? (await custody.LinkAsync(residentId, ScaleSource, ["body.composition"], cancellationToken)).Value?.Link.ResidentRef;
            if (stepsRef is null || scaleRef is null)
            {
                continue; // the identity part did not register the demo sources
            }

            // A gently varying walker per resident; the third resident improves over the month.
            var random = new Random(username.GetHashCode(StringComparison.Ordinal) & 0x7fffffff);
            var steps = Enumerable.Range(1, 30).Select(daysAgo => new DepositRecord(
                stepsRef,
                "steps.daily",
                today.AddDays(-daysAgo),
                Payload(new { steps = 5_000 + (n * 1_500) + random.Next(0, 4_000) + (n == 2 ? (30 - daysAgo) * 60 : 0), activeMinutes = 20 + random.Next(0, 40) }),
                $"{username}-steps-{today.AddDays(-daysAgo):yyyy-MM-dd}")).ToList();
            var weekly = Enumerable.Range(0, 5).Select(week => new DepositRecord(
                scaleRef,
                "body.composition",
                today.AddDays(-(week * 7) - 1).AddHours(7),
                Payload(new { weightKg = Math.Round(58.0 + (n * 6) + (week * 0.3), 1), heightCm = 160.0 + (n * 5), bodyFatPercent = Math.Round(24.0 + (week * 0.2), 1), muscleRatePercent = Math.Round(32.0 - (week * 0.15), 1) }),
                $"{username}-body-{today.AddDays(-(week * 7) - 1):yyyy-MM-dd}")).ToList();

            if (existing is null)
            {
                enrolled++;
            }
            await deposits.DepositAsync(StepsSource, new DepositRequest(steps), cancellationToken);
            await deposits.DepositAsync(ScaleSource, new DepositRequest(weekly), cancellationToken);
        }
        if (enrolled > 0)
        {
            // Each resident sees the references their sources deposit under in GET /api/v1/me (sources[].residentRef).
            context.Notes.Add($"custody   {enrolled} demo resident(s) enrolled and linked to the step app and the scale, with 30 days of steps and weekly body composition");
        }
    }

    private static JsonElement Payload(object value) => JsonSerializer.SerializeToElement(value);
}

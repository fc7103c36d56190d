using System.Diagnostics;
using System.Text.Json;
using Dapper;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InfoBank.Bench;

/// <summary>
/// The consent decision, two ways, with 100,000 residents × 10 offers (1,000,000 active consents):
/// the pure <see cref="ConsentDecider.Decide"/> over snapshots held in memory (the function's own
/// cost), and <see cref="ConsentDecisions.DecideAsync"/> as the Access feature calls it, reading the
/// resident's consents fresh from a file-backed SQLite database for every decision (no cache).
/// </summary>
public sealed class ConsentDecisionBenchmark : IBenchmark
{
    private const int OfferCount = 10;
    private static readonly string[] Items = [DataCategories.StepsDaily, DataCategories.BodyComposition, DataCategories.LocationVisit];
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    public string Name => "consent-decision";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context)
    {
        var residents = context.Quick ? 10_000 : 100_000;
        var offers = Offers();
        var subjects = Enumerable.Range(0, residents).Select(i => new Guid(i, 0, 0, [0, 0, 0, 0, 0, 0, 0, 1])).ToArray();
        var results = new List<BenchResult>();

        // In memory: each resident's snapshot, as the store would return it.
        var snapshots = new Dictionary<Guid, ConsentSnapshotEntry[]>(residents);
        foreach (var subject in subjects)
        {
            snapshots[subject] = offers.Select(o => new ConsentSnapshotEntry(Consent(subject, o), o)).ToArray();
        }
        var questions = Questions(subjects, offers, 200_000);
        var inMemory = await Measure.MedianAsync(3, _ =>
        {
            var allowed = 0;
            var watch = Stopwatch.StartNew();
            foreach (var q in questions)
            {
                if (ConsentDecider.Decide(q, Now, snapshots[q.SubjectId]).Allowed)
                {
                    allowed++;
                }
            }
            watch.Stop();
            if (allowed == 0)
            {
                throw new InvalidOperationException("No decision allowed: the benchmark's data is wrong.");
            }
            return Task.FromResult(Measure.PerSecond(questions.Count, watch));
        });
        results.Add(new BenchResult($"consent decision, in-process function, {residents:N0} residents × {OfferCount} offers in memory", inMemory, "decisions/s"));

        // From the database, fresh for every decision.
        var path = context.NewDatabasePath("consent-decision");
        var options = Options.Create(new DatabaseOptions { Provider = DatabaseProvider.Sqlite, ConnectionString = $"Data Source={path}" });
        SqliteTypeHandlers.Register();
        new Migrator(options, NullLogger<Migrator>.Instance).Migrate();
        var connections = new DbConnectionFactory(options);
        var store = new ConsentStore(connections);
        await LoadAsync(connections, store, offers, subjects);
        var decisions = new ConsentDecisions(store, new FixedClock(Now));
        var dbQuestions = Questions(subjects, offers, context.Quick ? 5_000 : 20_000);
        var latencies = new List<double>(dbQuestions.Count);
        var total = Stopwatch.StartNew();
        foreach (var q in dbQuestions)
        {
            var start = Stopwatch.GetTimestamp();
            await decisions.DecideAsync(q);
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        total.Stop();
        latencies.Sort();
        results.Add(new BenchResult($"consent decision read fresh from SQLite, {residents:N0} × {OfferCount} consents", Measure.PerSecond(dbQuestions.Count, total), "decisions/s",
            Note: $"p50 {Measure.Format(Measure.Percentile(latencies, 0.5))} ms, p99 {Measure.Format(Measure.Percentile(latencies, 0.99))} ms, one thread"));
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
        return results;
    }

    private static OfferTerms[] Offers() => Enumerable.Range(0, OfferCount).Select(i =>
    {
        var items = Items.Take(1 + i % 3).ToArray();
        var notice = new Notice(new Recipient($"business-{i % 5}", $"Business {i % 5}", "JP"),
            i < 5 ? Purposes.ServiceOptimisation : Purposes.AcademicResearch, new("目的", "purpose"),
            items, items.Where(DataCategories.SpecialCare.Contains).ToList(), i % 2 == 0 ? Granularity.AggregateOnly : Granularity.RecordLevel,
            Now.AddDays(-30), Now.AddDays(300), 365, 100, new("ポイント", "points"), OfferService.StandardWithdrawal);
        return new OfferTerms(new Guid(0, 0, (short)i, [0, 0, 0, 0, 0, 0, 0, 2]), Guid.NewGuid(), OfferStatus.Active, 1, NoticeCanonical.Hash(notice), notice);
    }).ToArray();

    private static ConsentRecord Consent(Guid subject, OfferTerms offer) => new(
        Guid.NewGuid(), subject, offer.OfferId, 1, offer.Notice.Items, offer.Notice.SpecialCareItems, ConsentState.ConsentGiven,
        Now.AddDays(-1), offer.Notice.ValidUntil, null, 0);

    private static List<DecisionRequest> Questions(Guid[] subjects, OfferTerms[] offers, int count)
    {
        var random = new Random(42);
        var questions = new List<DecisionRequest>(count);
        for (var i = 0; i < count; i++)
        {
            var offer = offers[random.Next(offers.Length)];
            var items = Items.Take(1 + random.Next(Items.Length)).ToArray();
            questions.Add(new DecisionRequest(offer.Notice.Recipient.ClientId, subjects[random.Next(subjects.Length)], offer.Notice.PurposeCode,
                items, random.Next(2) == 0 ? Granularity.AggregateOnly : Granularity.RecordLevel));
        }
        return questions;
    }

    private static async Task LoadAsync(DbConnectionFactory connections, ConsentStore store, OfferTerms[] offers, Guid[] subjects)
    {
        await connections.InTransactionAsync(async s =>
        {
            foreach (var offer in offers)
            {
                await store.InsertOfferAsync(s, offer, Now);
            }
            return true;
        });
        await using var connection = await connections.OpenAsync();
        const string insert = """
            INSERT INTO consents (consent_id, subject_id, offer_id, notice_version, state, items, explicit_items, given_at, expires_at, ended_at, last_sequence)
            VALUES (@ConsentId, @SubjectId, @OfferId, 1, 'ConsentGiven', @Items, @ExplicitItems, @GivenAt, @ExpiresAt, NULL, 0)
            """;
        foreach (var chunk in subjects.Chunk(1_000))
        {
            await using var transaction = await connection.BeginTransactionAsync();
            var rows = chunk.SelectMany(s => offers.Select(o => new
            {
                ConsentId = Guid.NewGuid(),
                SubjectId = s,
                o.OfferId,
                Items = JsonSerializer.Serialize(o.Notice.Items),
                ExplicitItems = JsonSerializer.Serialize(o.Notice.SpecialCareItems),
                GivenAt = Now.AddDays(-1),
                ExpiresAt = o.Notice.ValidUntil,
            }));
            await connection.ExecuteAsync(insert, rows, transaction);
            await transaction.CommitAsync();
        }
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

using Dapper;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Tests.Consent;

/// <summary>A clock the test moves by hand, for expiry.</summary>
public sealed class ManualClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

/// <summary>The consent services wired by hand over one test database.</summary>
public sealed class ConsentKit
{
    public static readonly DateTimeOffset Start = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);

    public ConsentKit(DbConnectionFactory connections, string keyDirectory)
    {
        Connections = connections;
        Audit = new RecordingAuditLog(connections, Clock);
        Store = new ConsentStore(connections);
        var auditor = new ConsentAuditor(Store);
        Keys = new SigningKeyStore(Options.Create(new SigningOptions { KeyDirectory = keyDirectory }), Clock, NullLogger<SigningKeyStore>.Instance);
        var receipts = new ConsentReceipts(Keys, Options.Create(new ConsentOptions()));
        Consents = new ConsentService(Store, auditor, receipts, Audit, NullLogger<ConsentService>.Instance);
        Offers = new OfferService(Store, auditor, Audit, NullLogger<OfferService>.Instance);
        Decisions = new ConsentDecisions(Store, Clock);
        Auditor = auditor;
    }

    public ManualClock Clock { get; } = new(Start);

    public RecordingAuditLog Audit { get; }

    public DbConnectionFactory Connections { get; }

    public ConsentStore Store { get; }

    public SigningKeyStore Keys { get; }

    public ConsentService Consents { get; }

    public OfferService Offers { get; }

    public ConsentDecisions Decisions { get; }

    public ConsentAuditor Auditor { get; }

    public static OfferDraft ResearchDraft(Guid? grantId = null, string recipient = "hokkaido-health-research") => new(
        grantId ?? Guid.NewGuid(),
        new Notice(
        new Recipient(recipient, "Hokkaido Health Research Institute", "JP"),
        Purposes.AcademicResearch,
        new("歩数と体組成の研究", "Research on steps and body composition"),
        [DataCategories.BodyComposition, DataCategories.StepsDaily],
        [DataCategories.BodyComposition],
        Granularity.RecordLevel,
        Start.AddDays(-10),
        Start.AddDays(30),
        1095,
        500,
        new("500ポイント", "500 points"),
        OfferService.StandardWithdrawal));

    public static OfferDraft FitnessDraft(Guid? grantId = null) => new(
        grantId ?? Guid.NewGuid(),
        new Notice(
        new Recipient("sapporo-fitness", "Sapporo Fit Club", "JP"),
        Purposes.ServiceOptimisation,
        new("歩数の集計", "Aggregate step counts"),
        [DataCategories.StepsDaily],
        [],
        Granularity.AggregateOnly,
        Start.AddDays(-10),
        Start.AddDays(60),
        180,
        100,
        new("100ポイント", "100 points"),
        OfferService.StandardWithdrawal));

    public static DecisionRequest ResearchQuestion(Guid subject, params string[] items) =>
        new("hokkaido-health-research", subject, Purposes.AcademicResearch,
            items.Length > 0 ? items : [DataCategories.BodyComposition], Granularity.RecordLevel);

    /// <summary>
    /// Makes <paramref name="subject"/> an enrolled resident (consent is refused to anyone else), with
    /// a bare residents row: these tests exercise consent, not custody's keys.
    /// </summary>
    public async Task<Guid> EnrolAsync(Guid subject)
    {
        await using var connection = await Connections.OpenAsync();
        var insert = Connections.Dialect.InsertIgnoringDuplicates("residents", ["account_id", "status", "terms_version", "terms_hash", "enrolled_at"], ["account_id"]);
        await connection.ExecuteAsync(insert, new { account_id = subject, status = "enrolled", terms_version = "test", terms_hash = "sha256:test", enrolled_at = Clock.GetUtcNow() });
        return subject;
    }

    /// <summary>A new enrolled resident.</summary>
    public Task<Guid> NewResidentAsync() => EnrolAsync(Guid.NewGuid());

    public async Task<ConsentView> GiveAsync(Guid subject, OfferTerms offer)
    {
        await EnrolAsync(subject);
        var (view, refusal) = await Consents.GiveAsync(subject,
            new GiveConsent(offer.OfferId, offer.NoticeVersion, offer.NoticeHash, offer.Notice.SpecialCareItems), CancellationToken.None);
        Assert.True(view is not null, refusal?.Detail);
        return view!;
    }

    public async Task<int> EventCountAsync()
    {
        return (await Connections.ReadAsync(Store.ListAllEventsAsync)).Count;
    }
}

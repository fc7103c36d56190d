using InfoBank.Core.Consent;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Infrastructure.Demo;

namespace InfoBank.Server.Features.Consent;

/// <summary>
/// The Sapporo "Kenko Point" offers: a fitness-club chain (aggregate steps), a health-research
/// institute (record-level body composition, special care) and the underground mall (visit counts).
/// Published through <see cref="OfferService"/> like a committee approval would, under fixed demo
/// grant ids, and skipped when the grant (or an open offer of that recipient and purpose, as the
/// applications feature's own demo may publish) already exists. Dates are fixed so a rerun
/// produces the identical notice and changes nothing. Then two demo residents opt in (the third is
/// left to do it by hand), each only once: a consent they later withdrew is not given again.
/// </summary>
public sealed class ConsentDemoSeed(OfferService offers, ConsentStore store, ConsentService consents, AccountStore accounts, TimeProvider time) : IDemoSeedPart
{
    public static readonly Guid FitnessGrant = Guid.Parse("0b6f7c2e-5d1a-4c3e-9a51-000000000401");
    public static readonly Guid ResearchGrant = Guid.Parse("0b6f7c2e-5d1a-4c3e-9a51-000000000402");
    public static readonly Guid MallGrant = Guid.Parse("0b6f7c2e-5d1a-4c3e-9a51-000000000403");

    private static readonly DateTimeOffset FiscalYearStart = new(2026, 4, 1, 0, 0, 0, TimeSpan.FromHours(9));
    private static readonly DateTimeOffset FiscalYearEnd = new(2027, 4, 1, 0, 0, 0, TimeSpan.FromHours(9));

    public int Order => 40;

    public static IReadOnlyList<OfferDraft> Drafts { get; } =
    [
        new(FitnessGrant,
            new Recipient("business-fitness-club", "Sapporo fitness club chain", "JP"),
            Purposes.ServiceOptimisation,
            new("区・年代別の歩数の傾向を集計し、新しい教室の場所と時間帯を決めるために使います。個人ごとの記録は渡しません（10人以上の集計のみ）。",
                "To plan new classes by ward and age band from step-count trends. Aggregates of at least 10 residents only; no individual records."),
            [DataCategories.StepsDaily], [], Granularity.AggregateOnly, FiscalYearStart, FiscalYearEnd, 180, 100,
            new("同意で100ポイント", "100 points for consenting")),
        new(ResearchGrant,
            new Recipient("business-health-research", "Hokkaido health-research institute", "JP"),
            Purposes.AcademicResearch,
            new("歩数と体組成（BMI・筋肉率）の関係を研究するため、仮名化した個人ごとの記録を提供します。",
                "Pseudonymised individual records, to research how daily steps relate to body composition (BMI, muscle rate)."),
            [DataCategories.BodyComposition, DataCategories.StepsDaily], [DataCategories.BodyComposition],
            Granularity.RecordLevel, FiscalYearStart, FiscalYearEnd, 1095, 500,
            new("同意で500ポイント", "500 points for consenting")),
        new(MallGrant,
            new Recipient("business-shopping-mall", "Odori underground shopping mall", "JP"),
            Purposes.Marketing,
            new("地下歩行空間の時間帯別の来訪数を集計し、催事の計画に使います。",
                "Visit counts by hour in the underground walkways, aggregated, to plan events."),
            [DataCategories.LocationVisit], [], Granularity.AggregateOnly, FiscalYearStart, FiscalYearEnd, 365, 50,
            new("同意で50ポイント", "50 points for consenting")),
    ];

    public async Task SeedAsync(DemoSeedContext context, CancellationToken cancellationToken)
    {
        await using var connection = await store.Connections.OpenAsync(cancellationToken);
        var open = await store.ListOpenOffersAsync(connection, time.GetUtcNow());
        var published = 0;
        foreach (var draft in Drafts)
        {
            var exists = await offers.FindByGrantAsync(draft.GrantId, cancellationToken) is not null
                || open.Any(o => o.Notice.Recipient.ClientId == draft.Recipient.ClientId && o.Notice.PurposeCode == draft.PurposeCode);
            if (!exists)
            {
                await offers.PublishAsync(draft, cancellationToken: cancellationToken);
                published++;
            }
        }
        if (published > 0)
        {
            context.Notes.Add($"Consent: {published} Sapporo demo offer(s) published; residents see them at GET /api/v1/offers.");
        }

        var given = 0;
        foreach (var (username, grants) in DemoConsents)
        {
            if (await accounts.FindByUsernameAsync(username, cancellationToken) is not { } account)
            {
                continue;
            }
            var history = await store.ListConsentsAsync(connection, account.Account.Id);
            foreach (var grant in grants)
            {
                var offer = await offers.FindByGrantAsync(grant, cancellationToken);
                if (offer is null || offer.Status != OfferStatus.Active || history.Any(c => c.OfferId == offer.OfferId))
                {
                    continue;
                }
                var (view, _) = await consents.GiveAsync(account.Account.Id,
                    new GiveConsent(offer.OfferId, offer.NoticeVersion, offer.NoticeHash, offer.Notice.SpecialCareItems), cancellationToken);
                given += view is null ? 0 : 1;
            }
        }
        if (given > 0)
        {
            context.Notes.Add($"Consent: {given} demo consent(s) given: the first demo resident to the fitness club and the research institute, the second to the fitness club.");
        }
    }

    private static readonly (string Username, Guid[] Grants)[] DemoConsents =
    [
        ("sato.hanako", [FitnessGrant, ResearchGrant]),
        ("suzuki.ichiro", [FitnessGrant]),
    ];
}

using InfoBank.Core.Consent;

namespace InfoBank.Core.Tests.Consent;

public sealed class ConsentCoreTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    internal static Notice SampleNotice(params string[] items) => new(
        new Recipient("research-institute", "Hokkaido Health Research Institute", "JP"),
        Purposes.AcademicResearch, new("体組成の研究", "Research on body composition"),
        items.Length > 0 ? items : [DataCategories.BodyComposition, DataCategories.StepsDaily],
        [DataCategories.BodyComposition], Granularity.RecordLevel,
        Now.AddDays(-1), Now.AddDays(90), 365, 500, new("500ポイント", "500 points"), new("アプリから撤回", "Withdraw in the app"));

    private static OfferTerms Offer(Notice notice, int version = 1, OfferStatus status = OfferStatus.Active) =>
        new(Guid.NewGuid(), Guid.NewGuid(), status, version, NoticeCanonical.Hash(notice), notice);

    [Fact]
    public void Notice_hash_ignores_item_order_and_duplicates_but_not_content()
    {
        var a = SampleNotice(DataCategories.StepsDaily, DataCategories.BodyComposition);
        var b = SampleNotice(DataCategories.BodyComposition, DataCategories.StepsDaily, DataCategories.StepsDaily);
        Assert.Equal(NoticeCanonical.Hash(a), NoticeCanonical.Hash(b));
        Assert.Matches("^sha-256:[0-9a-f]{64}$", NoticeCanonical.Hash(a));
        Assert.NotEqual(NoticeCanonical.Hash(a), NoticeCanonical.Hash(a with { RetentionDays = 366 }));
        Assert.NotEqual(NoticeCanonical.Hash(a), NoticeCanonical.Hash(a with { PurposeText = new("体組成の研究", "Research") }));
    }

    [Fact]
    public void Diff_names_each_changed_field()
    {
        var before = SampleNotice();
        var after = before with { RetentionDays = 730, Items = [DataCategories.BodyComposition, DataCategories.StepsDaily, DataCategories.LocationVisit] };
        var changes = NoticeCanonical.Diff(before, after);
        Assert.Equal(["items", "retentionDays"], changes.Select(c => c.Field));
        Assert.Equal("365", changes[1].Before);
        Assert.Equal("730", changes[1].After);
        Assert.Empty(NoticeCanonical.Diff(before, before));
    }

    [Fact]
    public void Special_care_offer_needs_each_item_named()
    {
        var offer = Offer(SampleNotice());
        var subject = Guid.NewGuid();
        var (none, refusal) = ConsentCommands.Give(subject, offer, null, new(offer.OfferId, 1, null, []), Guid.NewGuid(), Now);
        Assert.Null(none);
        Assert.Equal(ConsentRefusalKind.Unacceptable, refusal!.Kind);
        Assert.Contains(DataCategories.BodyComposition, refusal.Message);

        var (given, _) = ConsentCommands.Give(subject, offer, null, new(offer.OfferId, 1, offer.NoticeHash, [DataCategories.BodyComposition]), Guid.NewGuid(), Now);
        Assert.NotNull(given);
        Assert.Equal([DataCategories.BodyComposition], given.ExplicitItems);
        Assert.Equal(offer.Notice.ValidUntil, given.ExpiresAt);
    }

    [Fact]
    public void The_data_window_is_part_of_the_notice_and_a_notice_without_one_keeps_its_hash()
    {
        var unstated = SampleNotice();
        var fromConsent = unstated with { LookbackDays = 0 };
        var lookBack = unstated with { LookbackDays = 30 };
        // A notice published before notices stated a window serialises as it always did.
        Assert.DoesNotContain("dataWindow", System.Text.Encoding.UTF8.GetString(NoticeCanonical.Serialize(unstated)), StringComparison.Ordinal);
        Assert.Contains("\"dataWindow\":{\"lookbackDays\":0}", System.Text.Encoding.UTF8.GetString(NoticeCanonical.Serialize(fromConsent)), StringComparison.Ordinal);
        Assert.NotEqual(NoticeCanonical.Hash(fromConsent), NoticeCanonical.Hash(lookBack));
        Assert.NotEqual(NoticeCanonical.Hash(unstated), NoticeCanonical.Hash(fromConsent));
        var change = Assert.Single(NoticeCanonical.Diff(fromConsent, lookBack));
        Assert.Equal(("dataWindow.lookbackDays", "0", "30"), (change.Field, change.Before, change.After));
        Assert.Equal(0, unstated.EffectiveLookbackDays);
        Assert.Contains("同意した日以降", NoticeDataWindow.Text(0).Ja, StringComparison.Ordinal);
        Assert.Contains("同意の30日前から", NoticeDataWindow.Text(30).Ja, StringComparison.Ordinal);
        Assert.Contains("the 30 days before you consent", NoticeDataWindow.Text(30).En, StringComparison.Ordinal);
    }

    [Fact]
    public void Consent_naming_a_window_other_than_the_offered_one_is_refused()
    {
        var offer = Offer(SampleNotice() with { LookbackDays = 30 });
        var subject = Guid.NewGuid();
        var (none, refusal) = ConsentCommands.Give(subject, offer, null, new(offer.OfferId, 1, null, [DataCategories.BodyComposition], LookbackDays: 0), Guid.NewGuid(), Now);
        Assert.Null(none);
        Assert.Equal(ConsentRefusalKind.WindowNotOffered, refusal!.Kind);
        Assert.NotNull(ConsentCommands.Give(subject, offer, null, new(offer.OfferId, 1, null, [DataCategories.BodyComposition], LookbackDays: 30), Guid.NewGuid(), Now).Event);
        Assert.NotNull(ConsentCommands.Give(subject, offer, null, new(offer.OfferId, 1, null, [DataCategories.BodyComposition]), Guid.NewGuid(), Now).Event);
    }

    [Fact]
    public void Outdated_notice_version_or_hash_is_refused_as_not_current()
    {
        var offer = Offer(SampleNotice(), version: 2);
        var subject = Guid.NewGuid();
        Assert.Equal(ConsentRefusalKind.NoticeNotCurrent,
            ConsentCommands.Give(subject, offer, null, new(offer.OfferId, 1, null, [DataCategories.BodyComposition]), Guid.NewGuid(), Now).Refusal!.Kind);
        Assert.Equal(ConsentRefusalKind.NoticeNotCurrent,
            ConsentCommands.Give(subject, offer, null, new(offer.OfferId, 2, "sha-256:00", [DataCategories.BodyComposition]), Guid.NewGuid(), Now).Refusal!.Kind);
    }

    [Fact]
    public void Ended_consents_accept_no_further_events()
    {
        var offer = Offer(SampleNotice());
        var subject = Guid.NewGuid();
        var given = ConsentCommands.Give(subject, offer, null, new(offer.OfferId, 1, null, [DataCategories.BodyComposition]), Guid.NewGuid(), Now).Event!;
        var record = ConsentLedger.Apply(null, given);
        var withdrawn = ConsentLedger.Apply(record, ConsentCommands.Withdraw(subject, record, record.ConsentId, Now).Event!);
        Assert.Equal(ConsentState.ConsentWithdrawn, withdrawn.State);
        Assert.Equal(Now, withdrawn.EndedAt);

        Assert.Equal(ConsentRefusalKind.AlreadyEnded, ConsentCommands.Withdraw(subject, withdrawn, withdrawn.ConsentId, Now).Refusal!.Kind);
        Assert.Null(ConsentCommands.Expire(withdrawn, Now.AddYears(1)));
        Assert.Throws<ConsentTransitionException>(() => ConsentLedger.Apply(withdrawn, given with { Type = ConsentState.ConsentExpired }));
        Assert.Throws<ConsentTransitionException>(() => ConsentLedger.Apply(withdrawn, given));
    }

    [Fact]
    public void Decision_explains_why_and_names_the_consent()
    {
        var offer = Offer(SampleNotice());
        var subject = Guid.NewGuid();
        var record = ConsentLedger.Apply(null,
            ConsentCommands.Give(subject, offer, null, new(offer.OfferId, 1, null, [DataCategories.BodyComposition]), Guid.NewGuid(), Now).Event!);
        var snapshot = new[] { new ConsentSnapshotEntry(record, offer) };
        var ask = new DecisionRequest("research-institute", subject, Purposes.AcademicResearch, [DataCategories.BodyComposition], Granularity.RecordLevel);

        var allowed = ConsentDecider.Decide(ask, Now, snapshot);
        Assert.True(allowed.Allowed);
        Assert.Equal(record.ConsentId, allowed.ConsentId);

        var otherPurpose = ConsentDecider.Decide(ask with { PurposeCode = Purposes.Marketing }, Now, snapshot);
        Assert.False(otherPurpose.Allowed);
        Assert.Contains("no consent", otherPurpose.Reasons.Single());

        var moreItems = ConsentDecider.Decide(ask with { Items = [DataCategories.LocationVisit] }, Now, snapshot);
        Assert.Contains(moreItems.Reasons, r => r.Contains(DataCategories.LocationVisit, StringComparison.Ordinal));

        var expired = ConsentDecider.Decide(ask, offer.Notice.ValidUntil, snapshot);
        Assert.False(expired.Allowed);
        Assert.Contains(expired.Reasons, r => r.Contains("expired", StringComparison.Ordinal));

        var suspended = ConsentDecider.Decide(ask, Now, [new(record, offer with { Status = OfferStatus.Suspended })]);
        Assert.Contains(suspended.Reasons, r => r.Contains("suspended", StringComparison.Ordinal));

        Assert.False(ConsentDecider.Decide(ask with { Items = [] }, Now, snapshot).Allowed);
    }
}

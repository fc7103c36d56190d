using System.Data.Common;
using Dapper;
using InfoBank.Core.Consent;
using InfoBank.Server.Features.Consent;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Tests.Infrastructure;

namespace InfoBank.Server.Tests.Consent;

/// <summary>The ledger, offers, decisions and the expiry job over a real database, once per provider.</summary>
public abstract class ConsentLedgerTests<TFixture> : StoreTestBase<TFixture>, IDisposable
    where TFixture : DatabaseFixture
{
    private readonly string _keys = Path.Combine(Path.GetTempPath(), "infobank-consent-keys-" + Guid.NewGuid().ToString("N"));
    private readonly ConsentKit _kit;

    protected ConsentLedgerTests(TFixture database)
        : base(database)
    {
        _kit = new ConsentKit(database.Connections, _keys);
    }

    public void Dispose()
    {
        if (Directory.Exists(_keys))
        {
            Directory.Delete(_keys, recursive: true);
        }
    }

    [SkippableFact]
    public async Task Given_consent_allows_exactly_its_items_and_withdrawal_denies_the_next_request()
    {
        var offer = (await _kit.Offers.PublishAsync(ConsentKit.ResearchDraft())).Offer;
        var subject = await _kit.NewResidentAsync();
        var view = await _kit.GiveAsync(subject, offer);
        Assert.Equal(ConsentState.ConsentGiven, view.Consent.State);

        var allowed = await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject, DataCategories.BodyComposition, DataCategories.StepsDaily));
        Assert.True(allowed.Allowed, string.Join(" ", allowed.Reasons));
        Assert.Equal(view.Consent.ConsentId, allowed.ConsentId);
        Assert.False((await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject, DataCategories.LocationVisit))).Allowed);
        Assert.False((await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(Guid.NewGuid()))).Allowed);
        Assert.False((await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject) with { RecipientClientId = "someone-else" })).Allowed);

        var (withdrawn, refusal) = await _kit.Consents.WithdrawAsync(subject, view.Consent.ConsentId, CancellationToken.None);
        Assert.Null(refusal);
        Assert.Equal(ConsentState.ConsentWithdrawn, withdrawn!.Consent.State);
        var denied = await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject));
        Assert.False(denied.Allowed);
        Assert.Null(denied.ConsentId);
        await AssertProjectionMatchesRebuild();
    }

    [SkippableFact]
    public async Task Bad_commands_are_refused_and_leave_the_ledger_unchanged()
    {
        var offer = (await _kit.Offers.PublishAsync(ConsentKit.ResearchDraft())).Offer;
        var subject = await _kit.NewResidentAsync();
        var other = await _kit.NewResidentAsync();
        var view = await _kit.GiveAsync(subject, offer);
        var before = await _kit.EventCountAsync();

        async Task Refused(Task<Outcome<ConsentView>> command, ConsentRefusalKind kind, string fragment)
        {
            var (result, refusal) = await command;
            Assert.Null(result);
            Assert.Equal(ConsentRefusals.TypeOf(kind), refusal!.Type);
            Assert.Contains(fragment, refusal.Detail, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(before, await _kit.EventCountAsync());
        }

        GiveConsent Give(Guid offerId, int version, params string[] named) => new(offerId, version, null, named);
        await Refused(_kit.Consents.GiveAsync(subject, Give(Guid.NewGuid(), 1), default), ConsentRefusalKind.NotFound, "no offer");
        await Refused(_kit.Consents.GiveAsync(subject, Give(offer.OfferId, 1, DataCategories.BodyComposition), default), ConsentRefusalKind.AlreadyConsented, "already consented");
        await Refused(_kit.Consents.GiveAsync(other, Give(offer.OfferId, 2, DataCategories.BodyComposition), default), ConsentRefusalKind.NoticeNotCurrent, "not current");
        await Refused(_kit.Consents.GiveAsync(other, Give(offer.OfferId, 1), default), ConsentRefusalKind.Unacceptable, "special-care");
        await Refused(_kit.Consents.GiveAsync(other, new GiveConsent(offer.OfferId, 1, "sha-256:00", [DataCategories.BodyComposition]), default), ConsentRefusalKind.NoticeNotCurrent, "hash");
        await Refused(_kit.Consents.WithdrawAsync(other, view.Consent.ConsentId, default), ConsentRefusalKind.NotFound, "no consent");
        await Refused(_kit.Consents.WithdrawAsync(subject, Guid.NewGuid(), default), ConsentRefusalKind.NotFound, "no consent");

        await _kit.Offers.SuspendForGrantAsync(offer.GrantId);
        await Refused(_kit.Consents.GiveAsync(other, Give(offer.OfferId, 1, DataCategories.BodyComposition), default), ConsentRefusalKind.OfferNotOpen, "suspended");

        var withdrawn = await _kit.Consents.WithdrawAsync(subject, view.Consent.ConsentId, default);
        Assert.NotNull(withdrawn.Value);
        before = await _kit.EventCountAsync();
        await Refused(_kit.Consents.WithdrawAsync(subject, view.Consent.ConsentId, default), ConsentRefusalKind.AlreadyEnded, "already ConsentWithdrawn");

        await _kit.Offers.RevokeForGrantAsync(offer.GrantId);
        before = await _kit.EventCountAsync();
        await Refused(_kit.Consents.GiveAsync(other, Give(offer.OfferId, 1, DataCategories.BodyComposition), default), ConsentRefusalKind.OfferNotOpen, "revoked");
    }

    [SkippableFact]
    public async Task Suspension_denies_until_resumed_and_revocation_ends_consents_for_good()
    {
        var offer = (await _kit.Offers.PublishAsync(ConsentKit.ResearchDraft())).Offer;
        var subject = await _kit.NewResidentAsync();
        var view = await _kit.GiveAsync(subject, offer);

        await _kit.Offers.SuspendForGrantAsync(offer.GrantId);
        var suspended = await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject));
        Assert.False(suspended.Allowed);
        Assert.Contains(suspended.Reasons, r => r.Contains("suspended", StringComparison.Ordinal));
        await _kit.Offers.ResumeForGrantAsync(offer.GrantId);
        Assert.True((await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject))).Allowed);

        var revoked = await _kit.Offers.RevokeForGrantAsync(offer.GrantId, "committee:chair");
        Assert.Equal(1, revoked!.Value.RevokedConsents);
        Assert.Equal(0, (await _kit.Offers.RevokeForGrantAsync(offer.GrantId))!.Value.RevokedConsents);
        Assert.False((await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject))).Allowed);
        var listed = Assert.Single(await _kit.Consents.ListAsync(subject, default));
        Assert.Equal(ConsentState.ConsentRevoked, listed.Consent.State);
        await Assert.ThrowsAsync<OfferStateException>(() => _kit.Offers.PublishAsync(ConsentKit.ResearchDraft(offer.GrantId)));
        await Assert.ThrowsAsync<OfferStateException>(() => _kit.Offers.ResumeForGrantAsync(offer.GrantId));
        Assert.Null(await _kit.Offers.SuspendForGrantAsync(Guid.NewGuid()));
        Assert.Contains(_kit.Audit.Entries, e => e.Kind == "consent.revoked" && e.Actor == "committee:chair");
        await AssertProjectionMatchesRebuild();
        _ = view;
    }

    [SkippableFact]
    public async Task A_new_notice_version_invalidates_consent_and_shows_what_changed()
    {
        var draft = ConsentKit.ResearchDraft();
        var first = await _kit.Offers.PublishAsync(draft);
        Assert.Equal(PublishOutcome.Created, first.Outcome);
        Assert.Equal(PublishOutcome.Unchanged, (await _kit.Offers.PublishAsync(draft)).Outcome);
        var subject = await _kit.NewResidentAsync();
        await _kit.GiveAsync(subject, first.Offer);

        var changed = await _kit.Offers.PublishAsync(draft with { Notice = draft.Notice with { RetentionDays = 1825, Items = [.. draft.Notice.Items, DataCategories.LocationVisit] } });
        Assert.Equal(PublishOutcome.NewNoticeVersion, changed.Outcome);
        Assert.Equal(2, changed.Offer.NoticeVersion);
        Assert.Equal(1, changed.InvalidatedConsents);
        Assert.False((await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject))).Allowed);

        var old = Assert.Single(await _kit.Consents.ListAsync(subject, default));
        Assert.Equal(ConsentState.ConsentInvalidated, old.Consent.State);
        Assert.Equal(1, old.Consent.NoticeVersion);
        Assert.Equal(first.Offer.NoticeHash, old.NoticeHash);
        Assert.Equal(["items", "retentionDays"], old.ChangesSinceConsent.Select(c => c.Field));

        // Consent does not carry over: the resident consents again, to version 2.
        var again = await _kit.GiveAsync(subject, changed.Offer);
        Assert.Equal(2, again.Consent.NoticeVersion);
        Assert.True((await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject, DataCategories.LocationVisit))).Allowed);
        await AssertProjectionMatchesRebuild();
    }

    [SkippableFact]
    public async Task Expiry_denies_at_once_and_the_job_records_it_idempotently()
    {
        var offer = (await _kit.Offers.PublishAsync(ConsentKit.ResearchDraft())).Offer;
        var subject = await _kit.NewResidentAsync();
        await _kit.GiveAsync(subject, offer);
        Assert.Equal(0, await _kit.Consents.ExpireDueAsync(default));

        _kit.Clock.Now = offer.Notice.ValidUntil;
        var decision = await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject));
        Assert.False(decision.Allowed);
        Assert.Contains(decision.Reasons, r => r.Contains("expired", StringComparison.Ordinal));

        // Other tests share this database, so the first run may expire their consents too.
        Assert.True(await _kit.Consents.ExpireDueAsync(default) >= 1);
        Assert.Equal(0, await _kit.Consents.ExpireDueAsync(default));
        Assert.Equal(ConsentState.ConsentExpired, Assert.Single(await _kit.Consents.ListAsync(subject, default)).Consent.State);
        Assert.Single(_kit.Audit.Entries, e => e.Kind == "consent.expired" && e.SubjectRef == subject.ToString("D"));
        await AssertProjectionMatchesRebuild();
    }

    [SkippableFact]
    public async Task Every_event_is_audited_with_it_and_an_audit_that_fails_leaves_nothing_changed()
    {
        var offer = (await _kit.Offers.PublishAsync(ConsentKit.ResearchDraft())).Offer;
        var subject = await _kit.NewResidentAsync();
        var view = await _kit.GiveAsync(subject, offer);
        var given = Assert.Single(_kit.Audit.Entries, e => e.SubjectRef == subject.ToString("D"));
        Assert.Equal("consent.given", given.Kind);
        Assert.Equal(offer.GrantId, given.GrantId);

        // The audit log cannot commit: the withdrawal is not recorded either, and the consent still holds.
        var events = await _kit.EventCountAsync();
        _kit.Audit.Fail = true;
        await Assert.ThrowsAsync<IOException>(() => _kit.Consents.WithdrawAsync(subject, view.Consent.ConsentId, default));
        _kit.Audit.Fail = false;
        Assert.Equal(events, await _kit.EventCountAsync());
        Assert.True((await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject))).Allowed);
        Assert.DoesNotContain(_kit.Audit.Entries, e => e.Kind == "consent.withdrawn" && e.SubjectRef == subject.ToString("D"));

        // Retried, it takes effect with exactly one entry.
        Assert.NotNull((await _kit.Consents.WithdrawAsync(subject, view.Consent.ConsentId, default)).Value);
        Assert.False((await _kit.Decisions.DecideAsync(ConsentKit.ResearchQuestion(subject))).Allowed);
        Assert.Single(_kit.Audit.Entries, e => e.Kind == "consent.withdrawn" && e.SubjectRef == subject.ToString("D"));
        Assert.Equal(2, _kit.Audit.Entries.Count(e => e.SubjectRef == subject.ToString("D")));

        var receipt = await _kit.Consents.ReceiptAsync(subject, view.Consent.ConsentId, default);
        var receiptEvents = receipt!.Receipt.GetProperty("events").EnumerateArray().ToList();
        Assert.Equal(["ConsentGiven", "ConsentWithdrawn"], receiptEvents.Select(e => e.GetProperty("type").GetString()));
        Assert.All(receiptEvents, e => Assert.Equal(System.Text.Json.JsonValueKind.Number, e.GetProperty("auditSequence").ValueKind));
    }

    [SkippableFact]
    public async Task Only_an_enrolled_resident_can_consent()
    {
        var offer = (await _kit.Offers.PublishAsync(ConsentKit.FitnessDraft())).Offer;
        var before = await _kit.EventCountAsync();
        var (view, refusal) = await _kit.Consents.GiveAsync(Guid.NewGuid(), new GiveConsent(offer.OfferId, 1, null, []), default);
        Assert.Null(view);
        Assert.Equal(ProblemTypes.NotEnrolled, refusal!.Type);
        Assert.Equal(before, await _kit.EventCountAsync());

        var erased = await _kit.NewResidentAsync();
        await _kit.Connections.InTransactionAsync(s => s.ExecuteAsync("UPDATE residents SET status = 'erased' WHERE account_id = @erased", new { erased }));
        Assert.Equal(ProblemTypes.NotEnrolled, (await _kit.Consents.GiveAsync(erased, new GiveConsent(offer.OfferId, 1, null, []), default)).Refusal!.Type);
        Assert.Equal(before, await _kit.EventCountAsync());
    }

    [SkippableFact]
    public async Task The_event_table_refuses_updates_and_deletes_except_the_erasure_pseudonymising_its_subject()
    {
        var offer = (await _kit.Offers.PublishAsync(ConsentKit.ResearchDraft())).Offer;
        var subject = Guid.NewGuid();
        await _kit.GiveAsync(subject, offer);
        var before = await _kit.EventCountAsync();
        await using (var connection = await _kit.Connections.OpenAsync())
        {
            await Assert.ThrowsAnyAsync<DbException>(() => connection.ExecuteAsync("UPDATE consent_events SET items = '[\"tampered\"]'"));
            await Assert.ThrowsAnyAsync<DbException>(() => connection.ExecuteAsync("UPDATE consent_events SET actor = 'someone', event_type = 'ConsentRevoked'"));
            await Assert.ThrowsAnyAsync<DbException>(() => connection.ExecuteAsync("DELETE FROM consent_events"));
            Assert.Equal(before, await _kit.EventCountAsync());
            Assert.Empty(await connection.QueryAsync<string>("SELECT actor FROM consent_events WHERE actor = 'someone' OR items = '[\"tampered\"]'"));
        }

        // The one change the ledger takes: erasure moves a resident's events to a random subject.
        var events = (await _kit.Connections.ReadAsync(_kit.Store.ListAllEventsAsync)).Where(e => e.SubjectId == subject).ToList();
        Assert.NotEmpty(events);
        var erasedSubject = Guid.NewGuid();
        await _kit.Connections.InTransactionAsync(async s =>
        {
            await ConsentStore.PseudonymiseSubjectAsync(s, subject, erasedSubject);
            return 0;
        });
        var after = (await _kit.Connections.ReadAsync(_kit.Store.ListAllEventsAsync)).Where(e => events.Any(x => x.Sequence == e.Sequence)).ToList();
        static object Flat(ConsentEvent e) => (e.Sequence, e.ConsentId, e.SubjectId, e.OfferId, e.Type, e.At, e.NoticeVersion, e.Actor,
            string.Join(',', e.Items), string.Join(',', e.ExplicitItems), e.ExpiresAt);
        Assert.Equal(events.Select(e => Flat(e with { SubjectId = erasedSubject, Actor = e.Actor == ConsentCommands.Actor(subject) ? ConsentStore.ErasedActor : e.Actor })),
            after.Select(Flat));
        Assert.Contains(events, e => e.Actor == ConsentCommands.Actor(subject));
        Assert.Equal(before, await _kit.EventCountAsync());
    }

    [SkippableFact]
    public async Task Concurrent_gives_to_one_offer_record_one_consent()
    {
        var offer = (await _kit.Offers.PublishAsync(ConsentKit.FitnessDraft())).Offer;
        var subject = await _kit.NewResidentAsync();
        var before = await _kit.EventCountAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            try
            {
                return (await _kit.Consents.GiveAsync(subject, new GiveConsent(offer.OfferId, 1, null, []), default)).Value is not null;
            }
            catch (ConsentConflictException)
            {
                return false;
            }
        }));
        Assert.Equal(1, results.Count(ok => ok));
        Assert.Equal(before + 1, await _kit.EventCountAsync());
    }

    [SkippableFact]
    public async Task Invalid_drafts_are_refused_with_every_problem_named()
    {
        var research = ConsentKit.ResearchDraft();
        var draft = research with { Notice = research.Notice with { SpecialCareItems = [], PurposeCode = "dpv:Gossip", RetentionDays = 0 } };
        var error = await Assert.ThrowsAsync<OfferDraftException>(() => _kit.Offers.PublishAsync(draft));
        Assert.Contains("dpv:Gossip", error.Message);
        Assert.Contains("body.composition", error.Message);
        Assert.Contains("retentionDays", error.Message);
    }

    private async Task AssertProjectionMatchesRebuild()
    {
        var rebuilt = ConsentLedger.Project(await _kit.Connections.ReadAsync(_kit.Store.ListAllEventsAsync));
        var stored = await _kit.Connections.ReadAsync(_kit.Store.ListAllConsentsAsync);
        Assert.Equal(rebuilt.Count, stored.Count);
        foreach (var record in stored)
        {
            var expected = rebuilt[record.ConsentId];
            Assert.Equal(expected with { Items = [], ExplicitItems = [] }, record with { Items = [], ExplicitItems = [] });
            Assert.Equal(expected.Items, record.Items);
            Assert.Equal(expected.ExplicitItems, record.ExplicitItems);
        }
    }
}

public sealed class SqliteConsentLedgerTests(SqliteFixture database) : ConsentLedgerTests<SqliteFixture>(database);

public sealed class PostgresConsentLedgerTests(PostgresFixture database) : ConsentLedgerTests<PostgresFixture>(database);

public sealed class SqlServerConsentLedgerTests(SqlServerFixture database) : ConsentLedgerTests<SqlServerFixture>(database);

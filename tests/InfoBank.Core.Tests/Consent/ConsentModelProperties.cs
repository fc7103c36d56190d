using FsCheck.Xunit;
using InfoBank.Core.Consent;

namespace InfoBank.Core.Tests.Consent;

/// <summary>
/// Random sequences of give / withdraw / time passing and expiry / revoke / notice change / suspend /
/// resume across residents and offers. After every step: the decision function agrees with a plain
/// reference model on every (resident, recipient, purpose, items, granularity) question; the
/// incremental projection equals one rebuilt from the events; refused commands leave the ledger alone.
/// </summary>
public sealed class ConsentModelProperties
{
    private const int Residents = 4;
    private const int OfferCount = 5;
    private static readonly string[] Recipients = ["fitness-club", "research-institute"];
    private static readonly string[] PurposeCodes = [Purposes.ServiceProvision, Purposes.AcademicResearch];
    private static readonly string[] AllItems = [DataCategories.StepsDaily, DataCategories.BodyComposition, DataCategories.LocationVisit];
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    [Property(MaxTest = 300, EndSize = 80)]
    public void Decisions_agree_with_the_reference_model((byte Op, byte A, byte B, byte C)[] steps)
    {
        var world = new World();
        foreach (var step in steps)
        {
            world.Step(step.Op, step.A, step.B, step.C);
            world.CheckProjection();
            world.CheckDecisions();
        }
    }

    /// <summary>The system under test (Core commands, ledger, decider) and the model, side by side.</summary>
    private sealed class World
    {
        private readonly List<ConsentEvent> _events = [];
        private readonly Dictionary<Guid, ConsentRecord> _projection = [];
        private readonly OfferTerms[] _offers = new OfferTerms[OfferCount];
        private readonly Guid[] _residents = Enumerable.Range(0, Residents).Select(_ => Guid.NewGuid()).ToArray();
        private DateTimeOffset _now = Start;

        // The model: per offer its terms as plain values; per (resident, offer) the active consent, if any.
        private readonly ModelOffer[] _model = new ModelOffer[OfferCount];
        private readonly Dictionary<(int Resident, int Offer), (Guid Id, DateTimeOffset Expires)> _modelActive = [];

        public World()
        {
            for (var o = 0; o < OfferCount; o++)
            {
                var items = AllItems.Where((_, i) => ((o + 1) >> i & 1) == 1 || i == o % 3).ToArray();
                _model[o] = new ModelOffer(Recipients[o % 2], PurposeCodes[o / 2 % 2], items,
                    o % 3 == 2 ? Granularity.AggregateOnly : Granularity.RecordLevel, OfferStatus.Active, 1, Start.AddDays(3 + o));
                _offers[o] = Terms(Guid.NewGuid(), _model[o]);
            }
        }

        public void Step(byte op, byte a, byte b, byte c)
        {
            var r = a % Residents;
            var o = b % OfferCount;
            switch (op % 7)
            {
                case 0: Give(r, o, c); break;
                case 1: Withdraw(r, o, c); break;
                case 2: PassTime(c); break;
                case 3: Revoke(o); break;
                case 4: ChangeNotice(o, c); break;
                case 5: SetStatus(o, OfferStatus.Active, OfferStatus.Suspended); break;
                default: SetStatus(o, OfferStatus.Suspended, OfferStatus.Active); break;
            }
        }

        private void Give(int r, int o, byte c)
        {
            var m = _model[o];
            var specialCare = m.Items.Where(DataCategories.SpecialCare.Contains).ToList();
            var namesSpecialCare = c % 4 != 0;
            var version = c % 5 == 0 ? m.Version - 1 : m.Version;
            var request = new GiveConsent(_offers[o].OfferId, version, null, namesSpecialCare ? specialCare : []);

            var expectedOk = m.Status == OfferStatus.Active && _now < m.ValidUntil && version == m.Version
                && !_modelActive.ContainsKey((r, o)) && (namesSpecialCare || specialCare.Count == 0);

            var active = _projection.Values.SingleOrDefault(x => x.IsActive && x.SubjectId == _residents[r] && x.OfferId == _offers[o].OfferId);
            var (e, refusal) = ConsentCommands.Give(_residents[r], _offers[o], active, request, Guid.NewGuid(), _now);
            Assert.Equal(expectedOk, e is not null);
            if (e is null)
            {
                Assert.NotNull(refusal);
                return;
            }
            Append(e);
            _modelActive[(r, o)] = (e.ConsentId, m.ValidUntil);
        }

        private void Withdraw(int r, int o, byte c)
        {
            // Sometimes try another resident's consent, or one that already ended.
            var owner = c % 3 == 0 ? (r + 1) % Residents : r;
            var target = _projection.Values
                .Where(x => x.SubjectId == _residents[owner] && x.OfferId == _offers[o].OfferId)
                .OrderByDescending(x => x.IsActive).ThenBy(x => x.ConsentId).FirstOrDefault();
            var id = target?.ConsentId ?? Guid.NewGuid();
            var expectedOk = owner == r && _modelActive.TryGetValue((r, o), out var m) && m.Id == id;

            var (e, refusal) = ConsentCommands.Withdraw(_residents[r], target, id, _now);
            Assert.Equal(expectedOk, e is not null);
            if (e is null)
            {
                Assert.NotNull(refusal);
                Assert.Equal(owner == r && target is not null ? ConsentRefusalKind.AlreadyEnded : ConsentRefusalKind.NotFound, refusal.Kind);
                return;
            }
            Append(e);
            _modelActive.Remove((r, o));
        }

        private void PassTime(byte c)
        {
            _now = _now.AddHours(6 * (c % 8));
            if (c % 2 == 1)
            {
                // The expiry job: twice, to show it is idempotent.
                for (var run = 0; run < 2; run++)
                {
                    foreach (var record in _projection.Values.ToList())
                    {
                        if (ConsentCommands.Expire(record, _now) is { } e)
                        {
                            Append(e);
                        }
                    }
                }
                foreach (var key in _modelActive.Where(kv => _now >= kv.Value.Expires).Select(kv => kv.Key).ToList())
                {
                    _modelActive.Remove(key);
                }
            }
        }

        private void Revoke(int o)
        {
            if (_model[o].Status == OfferStatus.Revoked)
            {
                return;
            }
            _model[o] = _model[o] with { Status = OfferStatus.Revoked };
            _offers[o] = _offers[o] with { Status = OfferStatus.Revoked };
            foreach (var record in ActiveFor(o))
            {
                Append(ConsentCommands.Revoke(record, _now, "committee:test")!);
            }
            RemoveModelActive(o);
        }

        private void ChangeNotice(int o, byte c)
        {
            if (_model[o].Status == OfferStatus.Revoked)
            {
                return;
            }
            var items = AllItems.Where((_, i) => (c >> i & 1) == 1).ToArray();
            _model[o] = _model[o] with
            {
                Items = items.Length > 0 ? items : [DataCategories.StepsDaily],
                Version = _model[o].Version + 1,
                ValidUntil = _now.AddDays(1 + c % 5),
            };
            _offers[o] = Terms(_offers[o].OfferId, _model[o]) with { Status = _offers[o].Status };
            foreach (var record in ActiveFor(o))
            {
                Append(ConsentCommands.Invalidate(record, _model[o].Version, _now, "committee:test")!);
            }
            RemoveModelActive(o);
        }

        private void SetStatus(int o, OfferStatus from, OfferStatus to)
        {
            if (_model[o].Status == from)
            {
                _model[o] = _model[o] with { Status = to };
                _offers[o] = _offers[o] with { Status = to };
            }
        }

        public void CheckProjection()
        {
            var rebuilt = ConsentLedger.Project(_events);
            Assert.Equal(_projection.Count, rebuilt.Count);
            foreach (var (id, record) in _projection)
            {
                var other = rebuilt[id];
                Assert.Equal(record with { Items = [], ExplicitItems = [] }, other with { Items = [], ExplicitItems = [] });
                Assert.Equal(record.Items, other.Items);
                Assert.Equal(record.ExplicitItems, other.ExplicitItems);
            }
        }

        public void CheckDecisions()
        {
            var offersById = _offers.ToDictionary(x => x.OfferId);
            for (var r = 0; r < Residents; r++)
            {
                var snapshot = _projection.Values.Where(x => x.SubjectId == _residents[r])
                    .Select(x => new ConsentSnapshotEntry(x, offersById[x.OfferId])).ToList();
                foreach (var recipient in Recipients)
                {
                    foreach (var purpose in PurposeCodes)
                    {
                        for (var mask = 1; mask < 1 << AllItems.Length; mask++)
                        {
                            var items = AllItems.Where((_, i) => (mask >> i & 1) == 1).ToArray();
                            foreach (var granularity in new[] { Granularity.RecordLevel, Granularity.AggregateOnly })
                            {
                                var request = new DecisionRequest(recipient, _residents[r], purpose, items, granularity);
                                var decision = ConsentDecider.Decide(request, _now, snapshot);
                                var allowing = ModelAllowing(r, recipient, purpose, items, granularity);
                                Assert.Equal(allowing.Count > 0, decision.Allowed);
                                if (decision.Allowed)
                                {
                                    Assert.Contains(decision.ConsentId!.Value, allowing);
                                }
                                else
                                {
                                    Assert.Null(decision.ConsentId);
                                    Assert.NotEmpty(decision.Reasons);
                                }
                            }
                        }
                    }
                }
            }
        }

        private List<Guid> ModelAllowing(int r, string recipient, string purpose, string[] items, Granularity granularity)
        {
            var ids = new List<Guid>();
            for (var o = 0; o < OfferCount; o++)
            {
                var m = _model[o];
                if (m.Recipient == recipient && m.Purpose == purpose && m.Status == OfferStatus.Active
                    && _modelActive.TryGetValue((r, o), out var active) && _now < active.Expires
                    && items.All(m.Items.Contains)
                    && !(granularity == Granularity.RecordLevel && m.Granularity == Granularity.AggregateOnly))
                {
                    ids.Add(active.Id);
                }
            }
            return ids;
        }

        private List<ConsentRecord> ActiveFor(int o) =>
            _projection.Values.Where(x => x.IsActive && x.OfferId == _offers[o].OfferId).ToList();

        private void RemoveModelActive(int o)
        {
            foreach (var key in _modelActive.Keys.Where(k => k.Offer == o).ToList())
            {
                _modelActive.Remove(key);
            }
        }

        private void Append(ConsentEvent e)
        {
            var stored = e with { Sequence = _events.Count + 1 };
            _projection.TryGetValue(stored.ConsentId, out var current);
            _projection[stored.ConsentId] = ConsentLedger.Apply(current, stored);
            _events.Add(stored);
        }

        private static OfferTerms Terms(Guid offerId, ModelOffer m)
        {
            var notice = new Notice(new Recipient(m.Recipient, m.Recipient, "JP"), m.Purpose, new("目的", "purpose"),
                m.Items, m.Items.Where(DataCategories.SpecialCare.Contains).ToList(), m.Granularity, Start, m.ValidUntil,
                30, 100, new("ポイント", "points"), new("アプリから撤回", "Withdraw in the app"));
            return new OfferTerms(offerId, Guid.NewGuid(), m.Status, m.Version, NoticeCanonical.Hash(notice), notice);
        }
    }

    private sealed record ModelOffer(string Recipient, string Purpose, string[] Items, Granularity Granularity, OfferStatus Status, int Version, DateTimeOffset ValidUntil);
}

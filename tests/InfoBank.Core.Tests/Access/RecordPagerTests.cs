using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using InfoBank.Core.Access;

namespace InfoBank.Core.Tests.Access;

public sealed class RecordPagerTests
{
    private sealed record Row(Guid ResidentId, string Position);

    private static readonly DateTimeOffset Start = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);

    private sealed record Page(DateTimeOffset At, IReadOnlyList<(Guid Resident, Row Row)> Rows, IReadOnlyList<(Guid Resident, bool Allowed)> Decisions);

    private sealed class Scenario
    {
        public required List<Guid> Residents { get; init; }

        public required List<Row> Rows { get; init; }

        public required List<ModelConsent> Consents { get; init; }

        public required HashSet<Guid> Erased { get; init; }

        public required bool GrantActive { get; init; }

        public required int PageSize { get; init; }

        public required int MaxResidents { get; init; }

        public static Scenario Random(int seed, bool changingOverTime)
        {
            var random = new Random(seed);
            var residents = Enumerable.Range(0, random.Next(0, 25)).Select(_ => Guid.NewGuid()).Order().ToList();
            var rows = residents
                .SelectMany(r => Enumerable.Range(0, random.Next(0, 6)).Select(i => new Row(r, $"{i:D3}")))
                .ToList();
            var horizon = changingOverTime ? 40 : 0;
            var consents = new List<ModelConsent>();
            foreach (var resident in residents)
            {
                // None, one, or a withdrawn consent followed by a new one; times in minutes around the fetch.
                for (var c = random.Next(0, 3); c > 0; c--)
                {
                    var given = Start.AddMinutes(random.Next(-30, horizon + 1));
                    if (changingOverTime)
                    {
                        DateTimeOffset? withdrawn = random.Next(3) == 0 ? given.AddMinutes(random.Next(0, horizon + 5)) : null;
                        consents.Add(new ModelConsent(resident, given, withdrawn, given.AddMinutes(random.Next(1, 60))));
                    }
                    else
                    {
                        // Settled before the fetch starts: withdrawn or expired already, or active throughout.
                        DateTimeOffset? withdrawn = random.Next(3) == 0 ? given.AddMinutes(random.Next(0, (int)(Start - given).TotalMinutes + 1)) : null;
                        consents.Add(new ModelConsent(resident, given, withdrawn, random.Next(4) == 0 ? Start : Start.AddDays(30)));
                    }
                }
            }
            return new Scenario
            {
                Residents = residents,
                Rows = rows,
                Consents = consents,
                Erased = residents.Where(_ => random.Next(8) == 0).ToHashSet(),
                GrantActive = random.Next(10) != 0,
                PageSize = random.Next(1, 8),
                MaxResidents = random.Next(1, 6),
            };
        }

        public async Task<List<Page>> FetchAllAsync()
        {
            var pages = new List<Page>();
            PagePosition? position = null;
            for (var n = 0; n < 1_000; n++)
            {
                // One page a minute: consent states may change between pages.
                var at = Start.AddMinutes(n);
                var decisions = new List<(Guid, bool)>();
                var result = await RecordPager.AssembleAsync<Row>(position, PageSize, MaxResidents,
                    (after, limit, _) => Task.FromResult<IReadOnlyList<Guid>>(
                        Residents.Where(r => after is null || r.CompareTo(after.Value) > 0).Take(limit).ToList()),
                    (resident, _) =>
                    {
                        var allowed = AccessReferenceModel.Allowed(Consents, GrantActive, Erased, at).Contains(resident);
                        decisions.Add((resident, allowed));
                        return Task.FromResult(allowed);
                    },
                    (resident, within, limit, _) => Task.FromResult<IReadOnlyList<(Row, string)>>(
                        Rows.Where(r => r.ResidentId == resident && (within is null || string.CompareOrdinal(r.Position, within) > 0))
                            .Take(limit).Select(r => (r, r.Position)).ToList()),
                    CancellationToken.None);
                pages.Add(new Page(at, result.Rows, decisions));
                Assert.True(result.Rows.Count <= PageSize);
                Assert.True(result.ResidentsExamined <= MaxResidents);
                // The position survives the cursor's text encoding.
                position = result.Position is null ? null : PagePosition.Decode(result.Position.Encode());
                Assert.Equal(result.Position, position);
                if (!result.MoreMayFollow)
                {
                    return pages;
                }
            }
            throw new InvalidOperationException("The pager never finished.");
        }
    }

    // The property: with consent states fixed during the fetch, the residents returned over
    // all pages are exactly those the reference model allows, with all of their rows, each once, in order.
    [Property(MaxTest = 200)]
    public Property Returns_exactly_the_residents_the_model_allows(int seed)
    {
        var scenario = Scenario.Random(seed, changingOverTime: false);
        var pages = scenario.FetchAllAsync().GetAwaiter().GetResult();
        var returned = pages.SelectMany(p => p.Rows).Select(r => r.Row).ToList();
        var allowed = AccessReferenceModel.Allowed(scenario.Consents, scenario.GrantActive, scenario.Erased, Start);
        var expected = scenario.Rows.Where(r => allowed.Contains(r.ResidentId)).ToList();
        return (returned.SequenceEqual(expected)
            && returned.Select(r => r.ResidentId).ToHashSet().SetEquals(scenario.Rows.Select(r => r.ResidentId).Where(allowed.Contains))).ToProperty();
    }

    // With consents given and withdrawn while paging: every returned row's resident was allowed at
    // the moment of its page (so a withdrawal takes effect on the very next page, even mid-resident);
    // rows come in order without repeats; every resident is decided before anything of theirs is
    // read; a resident denied at first sight gets nothing, and one allowed at every look gets everything.
    [Property(MaxTest = 300)]
    public Property Each_page_honours_consent_at_its_own_moment(int seed)
    {
        var scenario = Scenario.Random(seed, changingOverTime: true);
        var pages = scenario.FetchAllAsync().GetAwaiter().GetResult();
        var ok = true;
        foreach (var page in pages)
        {
            var allowed = AccessReferenceModel.Allowed(scenario.Consents, scenario.GrantActive, scenario.Erased, page.At);
            ok &= page.Rows.All(r => allowed.Contains(r.Resident) && r.Row.ResidentId == r.Resident);
            ok &= page.Rows.Select(r => r.Resident).Distinct().All(r => page.Decisions.Contains((r, true)));
        }
        var returned = pages.SelectMany(p => p.Rows).Select(r => r.Row).ToList();
        var order = scenario.Rows.Select((r, i) => (r, i)).ToDictionary(x => x.r, x => x.i);
        ok &= returned.Zip(returned.Skip(1)).All(p => order[p.First] < order[p.Second]);
        foreach (var resident in scenario.Residents)
        {
            var decisions = pages.SelectMany(p => p.Decisions).Where(d => d.Resident == resident).Select(d => d.Allowed).ToList();
            var theirs = scenario.Rows.Where(r => r.ResidentId == resident).ToList();
            var got = returned.Where(r => r.ResidentId == resident).ToList();
            ok &= decisions.Count > 0;
            ok &= theirs.Take(got.Count).SequenceEqual(got);
            ok &= decisions.Count == 0 || decisions[0] || got.Count == 0;
            ok &= !decisions.All(d => d) || got.Count == theirs.Count;
        }
        return ok.ToProperty();
    }

    [Fact]
    public async Task A_withdrawal_removes_the_resident_from_the_next_page_even_mid_way_through_their_records()
    {
        var alice = Guid.Parse("00000000-0000-0000-0000-00000000000a");
        var bob = Guid.Parse("00000000-0000-0000-0000-00000000000b");
        Guid[] residents = [alice, bob];
        var withdrawn = new HashSet<Guid>();
        Task<IReadOnlyList<Guid>> After(Guid? after, int limit, CancellationToken _) =>
            Task.FromResult<IReadOnlyList<Guid>>(residents.Where(r => after is null || r.CompareTo(after.Value) > 0).Take(limit).ToList());
        Task<bool> May(Guid resident, CancellationToken _) => Task.FromResult(!withdrawn.Contains(resident));
        Task<IReadOnlyList<(int, string)>> Read(Guid resident, string? within, int limit, CancellationToken _) =>
            Task.FromResult<IReadOnlyList<(int, string)>>(Enumerable.Range(0, 4).Where(i => within is null || i > int.Parse(within, System.Globalization.CultureInfo.InvariantCulture))
                .Take(limit).Select(i => (i, i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList());

        var first = await RecordPager.AssembleAsync<int>(null, 3, 10, After, May, Read, CancellationToken.None);
        Assert.Equal([alice, alice, alice], first.Rows.Select(r => r.Resident));
        Assert.Equal(new PagePosition(alice, "2"), first.Position);
        withdrawn.Add(alice);
        var second = await RecordPager.AssembleAsync<int>(first.Position, 3, 10, After, May, Read, CancellationToken.None);
        Assert.Equal([bob, bob, bob], second.Rows.Select(r => r.Resident));
        var third = await RecordPager.AssembleAsync<int>(second.Position, 3, 10, After, May, Read, CancellationToken.None);
        Assert.Equal([(bob, 3)], third.Rows);
        Assert.False(third.MoreMayFollow);
    }

    [Fact]
    public void Positions_that_are_not_positions_decode_to_null()
    {
        Assert.Null(PagePosition.Decode("not-a-guid|x"));
        Assert.Null(PagePosition.Decode(""));
        var position = new PagePosition(Guid.NewGuid(), "2026-11-22T00:00:00Z|abc");
        Assert.Equal(position, PagePosition.Decode(position.Encode()));
    }

    [Fact]
    public void Projection_keeps_only_approved_fields()
    {
        var payload = Encoding.UTF8.GetBytes("""{"steps":8123,"distanceMeters":5400.5,"activeMinutes":31}""");
        var projected = RecordProjection.Project(payload, new HashSet<string> { "steps", "activeMinutes" });
        Assert.Equal("""{"steps":8123,"activeMinutes":31}""", Encoding.UTF8.GetString(projected));
        Assert.Equal("{}", Encoding.UTF8.GetString(RecordProjection.Project(payload, new HashSet<string>())));
        Assert.Equal("{}", Encoding.UTF8.GetString(RecordProjection.Project("[1,2]"u8, new HashSet<string> { "steps" })));
    }
}

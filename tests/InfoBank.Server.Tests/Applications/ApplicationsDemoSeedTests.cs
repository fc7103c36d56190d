using InfoBank.Server.Features.Applications;
using InfoBank.Server.Infrastructure.Demo;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Applications;

public sealed class ApplicationsDemoSeedTests(InfoBankFactory factory) : IClassFixture<InfoBankFactory>
{
    [Fact]
    public async Task Demo_seed_leaves_the_three_businesses_applications_in_different_states_once()
    {
        var seeder = factory.Services.GetRequiredService<DemoSeeder>();
        var first = await seeder.SeedAsync(CancellationToken.None);
        var second = await seeder.SeedAsync(CancellationToken.None);
        Assert.DoesNotContain(second.Notes, n => n.StartsWith("application", StringComparison.Ordinal));

        using var scope = factory.Services.CreateScope();
        var service = scope.ServiceProvider.GetRequiredService<ApplicationService>();
        var fitness = Assert.Single((await service.ListForOwnerAsync("business-fitness-club", null, 10, default)).Page);
        var research = Assert.Single((await service.ListForOwnerAsync("business-health-research", null, 10, default)).Page);
        var mall = Assert.Single((await service.ListForOwnerAsync("business-shopping-mall", null, 10, default)).Page);
        Assert.Equal(("approved", "in_review", "returned"), (fitness.Status, research.Status, mall.Status));

        var approved = (await service.GetForOwnerAsync("business-fitness-club", fitness.Id, default)).Value!;
        Assert.Equal("aggregate", approved.Grant!.OutputKind);
        Assert.Equal("active", approved.Grant.Status);
        Assert.Equal(3, approved.Decision!.Votes.Count);
        Assert.NotEmpty(approved.Decision.Conditions);
        Assert.Contains(first.Notes, n => n.Contains(approved.Grant.Id.ToString(), StringComparison.Ordinal));

        var pending = (await service.GetForOwnerAsync("business-health-research", research.Id, default)).Value!;
        Assert.Equal("record", pending.Application.Output.Kind);
        Assert.Equal("needs_review", pending.Assessment!.Policy.Decision);
        var returned = (await service.GetForOwnerAsync("business-shopping-mall", mall.Id, default)).Value!;
        Assert.Contains(returned.Assessment!.Pia.Findings, f => f.Severity == "blocker");
    }
}

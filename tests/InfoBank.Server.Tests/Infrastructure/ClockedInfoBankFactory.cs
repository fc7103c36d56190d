using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace InfoBank.Server.Tests.Infrastructure;

/// <summary>
/// A server whose clock the test moves forward (expiry, lockout, retention, fetch periods). Tests of
/// one class share the server, so they only ever move the clock forward: the audit log's times never
/// go back.
/// </summary>
public class ClockedInfoBankFactory : InfoBankFactory
{
    public ShiftableTimeProvider Time { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        base.ConfigureWebHost(builder);
        builder.ConfigureTestServices(services => services.AddSingleton<TimeProvider>(Time));
    }
}

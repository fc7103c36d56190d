using System.CommandLine;
using System.Globalization;
using InfoBank.Server.Features.Audit;
using InfoBank.Server.Features.Custody;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace InfoBank.Cli.Commands;

internal static class KeysCommand
{
    private const string Actor = "operator:cli";

    public static Command Create()
    {
        var keys = new Command("keys", "Residents' data keys and the key-encryption key that wraps them.");
        keys.Subcommands.Add(Status());
        keys.Subcommands.Add(Rotate());
        return keys;
    }

    private static Command Status()
    {
        var command = new Command("status", "Show the key-encryption keys, how many data keys each wraps, and pending re-wrap or re-seal work.");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var host = CliHost.Build(parse, services => services.AddAuditLog());
            try
            {
                await using var scope = host.Services.CreateAsyncScope();
                var status = await scope.ServiceProvider.GetRequiredService<KeyRotation>().StatusAsync(cancellationToken);
                Console.WriteLine("Key-encryption keys (DataProtection key ring, encrypted at rest under the master key file):");
                Console.WriteLine($"  {"key id",-36}  {"activated",-20}  {"expires",-20}  {"data keys",9}  state");
                foreach (var kek in status.Keks)
                {
                    var state = kek.Revoked ? "revoked" : kek.Current ? "current" : "retired (still unwraps)";
                    Console.WriteLine($"  {kek.KeyId,-36}  {Time(kek.Activation),-20}  {Time(kek.Expiration),-20}  {kek.WrappedDeks,9:N0}  {state}");
                }
                Console.WriteLine();
                Console.WriteLine($"Data keys not yet under the current key-encryption key: {status.DeksUnderOtherKeks:N0}");
                Console.WriteLine($"Residents with a rotated data key still retiring:        {status.ResidentsWithRetiredKeys:N0}");
                Console.WriteLine($"Records awaiting re-seal under a newer data key:         {status.RecordsAwaitingReseal:N0}");
                return 0;
            }
            finally
            {
                await ((IAsyncDisposable)host).DisposeAsync();
            }
        });
        return command;
    }

    private static Command Rotate()
    {
        var resident = new Option<Guid?>("--resident") { Description = "Rotate this resident's data key instead (account id): new version at once, records re-sealed, old version destroyed after the grace period." };
        var command = new Command("rotate", """
            Rotate the key-encryption key: create and activate a new DataProtection key, then re-wrap every
            resident's data key under it in batches. The old key stays in the ring, so the server keeps
            reading throughout; its hourly job finishes any re-wrap this command could not.
            With --resident, rotate one resident's data key instead.
            """);
        command.Options.Add(resident);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var host = CliHost.Build(parse, services => services.AddAuditLog());
            try
            {
                await using var scope = host.Services.CreateAsyncScope();
                var rotation = scope.ServiceProvider.GetRequiredService<KeyRotation>();
                if (parse.GetValue(resident) is { } residentId)
                {
                    var version = await rotation.RotateResidentKeyAsync(residentId, Actor, cancellationToken);
                    if (version is null)
                    {
                        Console.Error.WriteLine($"error: no enrolled resident has the account id {residentId}");
                        return 1;
                    }
                    Console.WriteLine($"Resident {residentId}: data key version {version} is active for new records.");
                    var resealed = await rotation.ResealResidentAsync(residentId, cancellationToken);
                    Console.WriteLine($"Re-sealed {resealed:N0} record(s) under version {version}. Older versions are destroyed once the grace period (Custody:RetiredKeyGraceSeconds) has passed.");
                    return 0;
                }

                var keyId = await rotation.RotateKekAsync(Actor, cancellationToken);
                Console.WriteLine($"New key-encryption key {keyId} created and active.");
                if (!await rotation.WaitUntilCurrentAsync(keyId, TimeSpan.FromSeconds(30), cancellationToken))
                {
                    Console.WriteLine("The key ring has not switched to it yet; the server's re-wrap job will move the data keys.");
                    return 0;
                }
                var rewrapped = await rotation.RewrapAsync(cancellationToken);
                Console.WriteLine($"Re-wrapped {rewrapped:N0} data key(s) under {keyId}.");
                return 0;
            }
            finally
            {
                await ((IAsyncDisposable)host).DisposeAsync();
            }
        });
        return command;
    }

    private static string Time(DateTimeOffset value) => value.UtcDateTime.ToString("yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture);
}

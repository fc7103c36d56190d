using System.Net;
using InfoBank.Server.Infrastructure;
using InfoBank.Server.Infrastructure.Db;
using InfoBank.Server.Infrastructure.Errors;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace InfoBank.Server.Tests.Foundation;

/// <summary>Which exceptions are storage trouble, on every database and in the data folder, however deeply wrapped.</summary>
public sealed class StorageFailureClassificationTests
{
    [Theory]
    [InlineData(13, 13, "SQLITE_FULL")]
    [InlineData(8, 8, "SQLITE_READONLY")]
    [InlineData(8, 1032, "SQLITE_READONLY (1032)")] // SQLITE_READONLY_DBMOVED
    [InlineData(10, 778, "SQLITE_IOERR (778)")] // SQLITE_IOERR_WRITE
    [InlineData(10, 4874, "SQLITE_IOERR (4874)")] // SQLITE_IOERR_SHMSIZE
    [InlineData(14, 14, "SQLITE_CANTOPEN")]
    [InlineData(11, 11, "SQLITE_CORRUPT")]
    public void Sqlite_storage_errors_are_unavailable(int code, int extended, string name)
    {
        var failure = StorageFailures.Classify(new SqliteException("x", code, extended));
        Assert.NotNull(failure);
        Assert.Equal(StorageFailureKind.Unavailable, failure.Kind);
        Assert.Equal(name, failure.Code);
        Assert.True(failure.RetryAfterSeconds > 1);
    }

    [Theory]
    [InlineData(5, 5)]
    [InlineData(5, 517)] // SQLITE_BUSY_SNAPSHOT
    [InlineData(6, 6)]
    public void Sqlite_contention_stays_contention(int code, int extended)
    {
        var failure = StorageFailures.Classify(new SqliteException("x", code, extended));
        Assert.Equal(StorageFailureKind.Contention, failure?.Kind);
        Assert.Equal(1, failure?.RetryAfterSeconds);
    }

    [Theory]
    [InlineData(19, 2067)] // SQLITE_CONSTRAINT_UNIQUE: a conflict the feature answers, not storage
    [InlineData(1, 1)] // SQLITE_ERROR: a bad statement is a bug
    public void Other_sqlite_errors_are_not_storage_failures(int code, int extended) =>
        Assert.Null(StorageFailures.Classify(new SqliteException("x", code, extended)));

    [Theory]
    [InlineData("53100", StorageFailureKind.Unavailable)] // disk_full
    [InlineData("53200", StorageFailureKind.Unavailable)] // out_of_memory
    [InlineData("53300", StorageFailureKind.Unavailable)] // too_many_connections
    [InlineData("25006", StorageFailureKind.Unavailable)] // read_only_sql_transaction
    [InlineData("08006", StorageFailureKind.Unavailable)] // connection_failure
    [InlineData("08001", StorageFailureKind.Unavailable)] // sqlclient_unable_to_establish_sqlconnection
    [InlineData("57P01", StorageFailureKind.Unavailable)] // admin_shutdown
    [InlineData("58030", StorageFailureKind.Unavailable)] // io_error
    [InlineData("40P01", StorageFailureKind.Contention)] // deadlock_detected
    [InlineData("55P03", StorageFailureKind.Contention)] // lock_not_available
    public void Postgres_storage_states_are_classified(string sqlState, StorageFailureKind kind)
    {
        var failure = StorageFailures.Classify(new PostgresException("x", "ERROR", "ERROR", sqlState));
        Assert.Equal(kind, failure?.Kind);
        Assert.Equal($"SQLSTATE {sqlState}", failure?.Code);
    }

    [Theory]
    [InlineData("23505")] // unique_violation
    [InlineData("42P01")] // undefined_table: a bug, not storage
    public void Other_postgres_states_are_not_storage_failures(string sqlState) =>
        Assert.Null(StorageFailures.Classify(new PostgresException("x", "ERROR", "ERROR", sqlState)));

    [Fact]
    public void Npgsql_connection_failures_are_unavailable()
    {
        var refused = new NpgsqlException("Failed to connect", new System.Net.Sockets.SocketException((int)System.Net.Sockets.SocketError.ConnectionRefused));
        Assert.Equal(StorageFailureKind.Unavailable, StorageFailures.Classify(refused)?.Kind);
    }

    [Fact]
    public void Wrapped_failures_are_found_through_inner_exceptions()
    {
        var full = new SqliteException("database or disk is full", 13);
        // The audit writer's batch failure, EF Core's save failure, and a task's aggregate.
        Assert.Equal("SQLITE_FULL", StorageFailures.Classify(new InvalidOperationException("The audit entry could not be recorded.", full))?.Code);
        Assert.Equal("SQLITE_FULL", StorageFailures.Classify(new DbUpdateException("save failed", new InvalidOperationException("outer", full)))?.Code);
        Assert.Equal("SQLITE_FULL", StorageFailures.Classify(new AggregateException(new InvalidOperationException("first"), full))?.Code);
        Assert.Null(StorageFailures.Classify(new InvalidOperationException("a bug", new ArgumentException("x"))));
    }

    [SkippableFact]
    public void A_full_disk_in_the_data_folder_is_unavailable()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "/dev/full is Linux's");
        var exception = Record.Exception(() =>
        {
            using var stream = new FileStream("/dev/full", FileMode.Open, FileAccess.Write);
            stream.Write(new byte[16]);
            stream.Flush();
        });
        var failure = StorageFailures.Classify(exception!);
        Assert.Equal(StorageFailureKind.Unavailable, failure?.Kind);
        Assert.Equal("errno 28", failure?.Code);
    }

    [Fact]
    public void Ordinary_io_and_other_exceptions_are_not_storage_failures()
    {
        Assert.Null(StorageFailures.Classify(new FileNotFoundException("x")));
        Assert.Null(StorageFailures.Classify(new IOException("the client went away")));
        Assert.Null(StorageFailures.Classify(new InvalidOperationException("x")));
    }
}

/// <summary>Storage failures thrown anywhere in a request answer 503 + Retry-After with the storage-unavailable type.</summary>
public sealed class StorageFailureHttpTests(StorageFailureHttpTests.Factory factory) : IClassFixture<StorageFailureHttpTests.Factory>
{
    public sealed class Factory : InfoBankFactory
    {
        protected override IEnumerable<IApiModule> ExtraModules => [new FailingModule()];
    }

    private sealed class FailingModule : IApiModule
    {
        public void MapEndpoints(IEndpointRouteBuilder routes)
        {
            var open = routes.MapGroup("/test/storage").AllowAnonymous();
            open.MapPost("/sqlite-full", string () => throw new InvalidOperationException(
                "The audit entry could not be recorded.", new SqliteException("database or disk is full", 13)));
            open.MapPost("/sqlite-readonly", string () => throw new SqliteException("attempt to write a readonly database", 8, 1032));
            open.MapPost("/sqlite-ioerr", string () => throw new SqliteException("disk I/O error", 10, 778));
            open.MapPost("/sqlite-cantopen", string () => throw new SqliteException("unable to open database file", 14));
            open.MapPost("/postgres-full", string () => throw new PostgresException("could not extend file: No space left on device", "ERROR", "ERROR", "53100"));
            open.MapPost("/postgres-readonly", string () => throw new PostgresException("cannot execute INSERT in a read-only transaction", "ERROR", "ERROR", "25006"));
            open.MapPost("/postgres-connection", string () => throw new PostgresException("terminating connection", "FATAL", "FATAL", "08006"));
            open.MapPost("/folder-full", string () => throw new IOException("No space left on device : '/data/keys/x'", 28));
            open.MapPost("/folder-readonly", string () => throw new UnauthorizedAccessException("Access to the path '/data/keys/x' is denied.", new IOException("Read-only file system", 30)));
        }
    }

    private readonly HttpClient _client = factory.CreateClient();

    [Theory]
    [InlineData("sqlite-full")]
    [InlineData("sqlite-readonly")]
    [InlineData("sqlite-ioerr")]
    [InlineData("sqlite-cantopen")]
    [InlineData("postgres-full")]
    [InlineData("postgres-readonly")]
    [InlineData("postgres-connection")]
    [InlineData("folder-full")]
    [InlineData("folder-readonly")]
    public async Task Storage_failure_is_a_503_with_retry_after_and_the_storage_problem_type(string route)
    {
        var response = await _client.PostAsync($"/test/storage/{route}", null);
        var problem = await HostTests.AssertProblem(response, HttpStatusCode.ServiceUnavailable);
        Assert.Equal(ProblemTypes.StorageUnavailable.Uri, problem.GetProperty("type").GetString());
        Assert.Equal(TimeSpan.FromSeconds(10), response.Headers.RetryAfter?.Delta);
        var body = problem.GetRawText();
        Assert.DoesNotContain("disk", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("read-only transaction", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("/data/keys", body, StringComparison.Ordinal);
    }
}

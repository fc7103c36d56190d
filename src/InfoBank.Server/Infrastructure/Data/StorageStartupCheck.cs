using InfoBank.Server.Infrastructure.Crypto;
using InfoBank.Server.Infrastructure.Db;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Infrastructure.Data;

/// <summary>
/// Runs before migrations: says where the data is, and refuses to start, naming the path and what
/// to do, when the data directory or the SQLite database cannot take writes. Without it such a
/// server started, answered reads, and failed every change with an error nobody connected to the
/// folder. It also takes group and other permissions off an existing database file and its -wal
/// and -shm (created world-readable by older versions), and says so.
/// </summary>
public sealed partial class StorageStartupCheck(DataDirectory data, IOptions<DatabaseOptions> database, ILogger<StorageStartupCheck> logger)
{
    public void Run()
    {
        var options = database.Value;
        LogDataDirectory(logger, data.Path, data.Origin);
        var sqlite = DbConnectionFactory.SqliteFileOf(options);

        EnsureFolder(data.Path);
        if (WriteProblem(data.Path) is { } problem)
        {
            if (options.Provider == DatabaseProvider.Sqlite)
            {
                Refuse($"the data directory {data} is not writable ({problem}). It holds the database and the keys: make it writable for this user, or point {DataDirectory.Variable} / {DataDirectory.Option} at another folder.");
            }
            // A server database needs nothing written here once the keys exist (they may be a read-only secret mount).
            LogDataDirectoryReadOnly(logger, data.Path, problem);
        }

        if (sqlite is null)
        {
            return;
        }
        if (DbConnectionFactory.IsReadOnlySqlite(options))
        {
            Refuse($"Database:ConnectionString opens {sqlite} read-only (Mode=ReadOnly); InfoBank writes on every change and every audited read. Remove Mode=ReadOnly.");
        }
        var folder = Path.GetDirectoryName(sqlite)!;
        EnsureFolder(folder);
        if (WriteProblem(folder) is { } folderProblem)
        {
            Refuse($"the folder of the database {sqlite} is not writable ({folderProblem}); SQLite writes its -wal and -shm files there. Make it writable for this user.");
        }
        if (!File.Exists(sqlite))
        {
            if (!options.MigrateOnStart)
            {
                Refuse($"there is no database at {sqlite} and Database:MigrateOnStart is false. Run `infobank migrate` (with the same {DataDirectory.Variable} / {DataDirectory.Option}) to create it, or point {DataDirectory.Variable} / {DataDirectory.Option} at the folder that holds it.");
            }
            return;
        }
        foreach (var file in new[] { sqlite, sqlite + "-wal", sqlite + "-shm" })
        {
            Tighten(file);
        }
        if (OpensReadOnly(options.ConnectionString))
        {
            Refuse($"the database file {sqlite} is read-only for this user (SQLite could only open it for reading). Make it (and its -wal and -shm files) writable for the user the server runs as.");
        }
    }

    private void EnsureFolder(string folder)
    {
        if (Directory.Exists(folder))
        {
            return;
        }
        try
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(folder);
            }
            else
            {
                Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
            LogCreatedFolder(logger, folder);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Refuse($"the folder {folder} does not exist and cannot be created ({ex.Message}). Create it, or point {DataDirectory.Variable} / {DataDirectory.Option} elsewhere.");
        }
    }

    /// <summary>Creates, writes, flushes and deletes a probe file: what a read-only mount, a full disk or missing rights refuse.</summary>
    private static string? WriteProblem(string folder)
    {
        var probe = Path.Combine(folder, $".infobank-write-probe-{Guid.NewGuid():N}");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.DeleteOnClose };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }
            using var stream = new FileStream(probe, options);
            stream.WriteByte(0);
            stream.Flush(flushToDisk: true);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex.Message;
        }
    }

    private void Tighten(string file)
    {
        try
        {
            if (SecretFile.TightenToOwnerOnly(file) is { } before)
            {
                LogTightened(logger, file, Convert.ToString((int)before, 8).PadLeft(4, '0'));
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            LogCouldNotTighten(logger, file, ex.Message);
        }
    }

    // Asked of SQLite itself rather than by opening the file: closing any other handle on the file
    // would drop the POSIX locks SQLite connections in this process hold on it. SQLite falls back to
    // read-only when the file (or its mount) refuses writing, whoever the user is.
    private static bool OpensReadOnly(string connectionString)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString) { Mode = SqliteOpenMode.ReadWrite, Pooling = false };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        return SQLitePCL.raw.sqlite3_db_readonly(connection.Handle, "main") == 1;
    }

    private void Refuse(string message)
    {
        LogRefused(logger, message);
        throw new InvalidOperationException("InfoBank cannot start: " + message);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Data directory {Path} ({Origin})")]
    private static partial void LogDataDirectory(ILogger logger, string path, string origin);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created the folder {Folder} (owner-only)")]
    private static partial void LogCreatedFolder(ILogger logger, string folder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The data directory {Path} is not writable ({Problem}); keys that do not exist yet cannot be created")]
    private static partial void LogDataDirectoryReadOnly(ILogger logger, string path, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{File} was readable by others (mode {Mode}); made it owner-only (0600)")]
    private static partial void LogTightened(ILogger logger, string file, string mode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{File} is readable by others and could not be made owner-only ({Problem})")]
    private static partial void LogCouldNotTighten(ILogger logger, string file, string problem);

    [LoggerMessage(Level = LogLevel.Critical, Message = "InfoBank cannot start: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);
}

using System.Collections.Concurrent;
using System.Diagnostics;

namespace InfoBank.TestSupport;

/// <summary>
/// One of our assemblies (the server, the CLI) run as a real child process with <c>dotnet</c>,
/// configured only by the environment it is given: configuration variables inherited from the test
/// runner (<c>Section__Key</c>, <c>ASPNETCORE_*</c>, <c>DOTNET_ENVIRONMENT</c>) are removed first, so
/// what the child runs with is exactly what the test wrote down. Both pipes are drained continuously,
/// so a chatty child never blocks on a full pipe; the last lines are kept for failure messages.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    private const int KeptLines = 40;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private ChildProcess(Process process) => _process = process;

    /// <summary>The process id, for the report of what was killed.</summary>
    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>The last lines the child wrote (both pipes), oldest first.</summary>
    public string RecentOutput => string.Join('\n', _lines);

    /// <param name="assemblyPath">The .dll to run.</param>
    /// <param name="workingDirectory">Where relative paths of the child land.</param>
    /// <param name="environment">Every setting of the child.</param>
    /// <param name="arguments">Command-line arguments after the assembly.</param>
    /// <param name="onOutput">Called with each line of standard output, on a pool thread.</param>
    public static ChildProcess Start(string assemblyPath, string workingDirectory, IReadOnlyDictionary<string, string> environment,
        IEnumerable<string>? arguments = null, Action<string>? onOutput = null)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(assemblyPath);
        foreach (var argument in arguments ?? [])
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var inherited in info.Environment.Keys.Where(IsConfiguration).ToList())
        {
            info.Environment.Remove(inherited);
        }
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {assemblyPath}.");
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                child.Keep(line);
                onOutput?.Invoke(line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                child.Keep(line);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>SIGKILL (on Unix <see cref="Process.Kill(bool)"/> sends it): no shutdown code of the child runs.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync().WaitAsync(timeout);

    public void Dispose()
    {
        try
        {
            Kill();
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _process.Dispose();
    }

    private void Keep(string line)
    {
        _lines.Enqueue(line);
        while (_lines.Count > KeptLines && _lines.TryDequeue(out _))
        {
        }
    }

    private static bool IsConfiguration(string name) =>
        name.Contains("__", StringComparison.Ordinal)
        || name.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
        || name.Equals("DOTNET_ENVIRONMENT", StringComparison.OrdinalIgnoreCase);
}

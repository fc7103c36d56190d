using System.CommandLine;
using System.Text.Json;
using InfoBank.Core.Applications;
using InfoBank.Core.Pia;
using InfoBank.Core.Policy;
using InfoBank.Core.Rules;

namespace InfoBank.Cli.Commands;

/// <summary>
/// <c>pia check</c> and <c>policy test</c>: the committee's offline tools. They read only the rule
/// files (found under --root, else the current folder or its nearest ancestor with pia/ and
/// policies/), never the database, so a secretary can check a change on a laptop.
/// </summary>
internal static class RuleCommands
{
    private static readonly Option<string?> Root = new("--root")
    {
        Description = "Folder holding pia/ and policies/ (default: the current folder or its nearest ancestor that has both).",
    };

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    public static Command Pia()
    {
        var file = new Argument<FileInfo>("application") { Description = "The application as YAML (see pia/examples/)." };
        var json = new Option<bool>("--json") { Description = "Print the full report as JSON." };
        var check = new Command("check", "Run the PIA rules and the committee policies on an application file. Exit code 1 when the application would be returned to the business, 2 when a file is malformed.");
        check.Arguments.Add(file);
        check.Options.Add(Root);
        check.Options.Add(json);
        check.SetAction(parse => Guarded(() =>
        {
            var catalog = RuleCatalog.LoadFromRoot(parse.GetValue(Root) ?? Directory.GetCurrentDirectory());
            var path = parse.GetValue(file)!;
            var yaml = YamlFile.Load(path.FullName, path.Name);
            var spec = ApplicationSpecYaml.Parse(yaml, yaml.Root ?? throw yaml.Error(null, "the file is empty"));
            var problems = ApplicationSpecValidation.Validate(spec, catalog.Inventory, catalog.Purposes);
            if (problems.Count > 0)
            {
                Console.Error.WriteLine($"{path.Name}: the application is not valid:");
                foreach (var (key, messages) in problems)
                {
                    Console.Error.WriteLine($"  {key}: {string.Join("; ", messages)}");
                }
                return 2;
            }
            var assessment = catalog.Assess(spec);
            if (parse.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(assessment, Json));
            }
            else
            {
                Print(assessment);
            }
            return assessment.Blocked ? 1 : 0;
        }));
        var command = new Command("pia", "Privacy impact assessment tools.");
        command.Subcommands.Add(check);
        return command;
    }

    public static Command Policy()
    {
        var test = new Command("test", "Run policies/tests/*.yaml: each case's expected decision and matched rule ids. Exit code 1 when a case fails, 2 when a file is malformed.");
        test.Options.Add(Root);
        test.SetAction(parse => Guarded(() =>
        {
            var root = parse.GetValue(Root) ?? Directory.GetCurrentDirectory();
            var catalog = RuleCatalog.LoadFromRoot(root);
            var testsDirectory = Path.Combine(FindRoot(root), "policies", "tests");
            var results = PolicyTestRunner.RunDirectory(catalog, testsDirectory);
            foreach (var r in results)
            {
                Console.WriteLine($"{(r.Passed ? "PASS" : "FAIL")}  {r.File}:{r.Line}  {r.Name}");
                if (!r.Passed)
                {
                    Console.WriteLine($"      expected {r.ExpectedDecision} [{string.Join(", ", r.ExpectedRuleIds)}]");
                    Console.WriteLine($"      got      {r.ActualDecision} [{string.Join(", ", r.ActualRuleIds)}]");
                    foreach (var error in r.Errors)
                    {
                        Console.WriteLine($"      error    {error}");
                    }
                }
            }
            var failed = results.Count(r => !r.Passed);
            Console.WriteLine($"policy tests: {results.Count - failed} passed, {failed} failed (rules {catalog.Hash})");
            return failed == 0 ? 0 : 1;
        }));
        var command = new Command("policy", "Ethics-committee policy tools.");
        command.Subcommands.Add(test);
        return command;
    }

    private static string FindRoot(string start)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(start)); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, "pia")) && Directory.Exists(Path.Combine(dir.FullName, "policies")))
            {
                return dir.FullName;
            }
        }
        return start;
    }

    private static int Guarded(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (RuleFileException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        catch (IOException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
    }

    private static void Print(Assessment assessment)
    {
        var pia = assessment.Pia;
        Console.WriteLine($"PIA outcome: {pia.Outcome}{(pia.FullAssessmentRequired ? " (full assessment required)" : "")}");
        foreach (var f in pia.Findings)
        {
            Console.WriteLine($"  [{f.Severity}] {f.RuleId} {f.Title.En} ({f.Source})");
            Console.WriteLine($"      {f.Explanation.En}");
            Console.WriteLine($"      references: {string.Join("; ", f.References)}");
            foreach (var (label, value) in f.Evidence)
            {
                Console.WriteLine($"      {label}: {JsonSerializer.Serialize(value)}");
            }
        }
        foreach (var error in pia.Errors)
        {
            Console.WriteLine($"  [error] {error}");
        }
        Console.WriteLine("Risk register (severity / likelihood after measures, 1-4):");
        foreach (var r in pia.Risks)
        {
            Console.WriteLine($"  {r.Event,-22} {r.Severity} / {r.Likelihood}   ({r.SeverityBecause}; {r.LikelihoodBecause})");
        }
        var policy = assessment.Policy;
        Console.WriteLine($"Policy decision: {policy.Decision}");
        foreach (var m in policy.Matched)
        {
            Console.WriteLine($"  {m.Effect,-7} {m.RuleId}: {m.Reason.En}");
        }
        foreach (var error in policy.Errors)
        {
            Console.WriteLine($"  [error] {error}");
        }
        Console.WriteLine($"Result: {(assessment.Blocked ? "returned to the business" : "goes to the committee for review")}");
        Console.WriteLine($"Rules: {pia.RuleHash}");
    }
}

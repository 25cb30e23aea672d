using System.Globalization;
using System.Text.Json;

namespace EpollTransport.MemoryBench;

/// <summary>The command line, for the parent (the user's command) and for a child (<c>--child</c>).</summary>
internal sealed class Cli
{
    private const string Usage =
        "Usage: dotnet run -c Release --project bench/memory -- [--connections N] [--requests N] [--load-connections K]\n" +
        "         [--repeat R] [--only Epoll|Sockets] [--no-types] [--markdown path] [--json path]\n" +
        "  --connections N       idle keep-alive connections per idle scenario (default 5000)\n" +
        "  --repeat R            runs of each idle scenario; the report takes the median (default 3)\n" +
        "  --requests N          requests / round trips counted per load scenario (default 200000)\n" +
        "  --load-connections K  concurrent keep-alive connections in the load scenarios (default 64)\n" +
        "  --only T              measure one transport only\n" +
        "  --no-types            skip the sampled passes that name the allocated types\n" +
        "  --markdown / --json   also write the report / all the data to these files";

    /// <summary>The prefix of the line carrying a child's result on its standard output.</summary>
    public const string ResultPrefix = "@@result ";

    public int Connections { get; private set; } = 5000;

    public long Requests { get; private set; } = 200_000;

    public int LoadConnections { get; private set; } = 64;

    public int Repeat { get; private set; } = 3;

    public List<TransportKind> Transports { get; } = [TransportKind.Epoll, TransportKind.Sockets];

    public bool SampleTypes { get; private set; } = true;

    public string? MarkdownPath { get; private set; }

    public string? JsonPath { get; private set; }

    public string? ChildScenario { get; private set; }

    public TransportKind? ChildTransport { get; private set; }

    public static async Task<int> MainAsync(string[] args)
    {
        Cli cli;
        try
        {
            cli = Parse(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync($"{ex.Message}\n{Usage}").ConfigureAwait(false);
            return 2;
        }

        if (cli.ChildScenario is { } scenario)
        {
            var result = await Scenarios.RunAsync(scenario, cli.ChildTransport, cli.Connections, cli.LoadConnections, cli.Requests, cli.SampleTypes).ConfigureAwait(false);
            Console.WriteLine(ResultPrefix + JsonSerializer.Serialize(result, ResultsJsonContext.Default.ChildResult));
            return 0;
        }

        return await Orchestrator.RunAsync(cli, args).ConfigureAwait(false);
    }

    /// <summary>The arguments a child gets for one scenario.</summary>
    public IEnumerable<string> ChildArguments(string scenario, TransportKind? transport, bool sampleTypes)
    {
        string[] common =
        [
            "--child", scenario,
            "--connections", Connections.ToString(CultureInfo.InvariantCulture),
            "--requests", Requests.ToString(CultureInfo.InvariantCulture),
            "--load-connections", LoadConnections.ToString(CultureInfo.InvariantCulture),
        ];
        return (transport, sampleTypes) switch
        {
            (null, true) => common,
            (null, false) => [.. common, "--no-types"],
            ({ } t, true) => [.. common, "--transport", t.ToString()],
            ({ } t, false) => [.. common, "--transport", t.ToString(), "--no-types"],
        };
    }

    private static Cli Parse(string[] args)
    {
        var cli = new Cli();
        for (int i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int PositiveInt() => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0
                ? n
                : throw new ArgumentException($"{args[i - 1]} needs a positive number.");

            switch (args[i])
            {
                case "--connections":
                    cli.Connections = PositiveInt();
                    break;
                case "--requests":
                    cli.Requests = PositiveInt();
                    break;
                case "--load-connections":
                    cli.LoadConnections = PositiveInt();
                    break;
                case "--repeat":
                    cli.Repeat = PositiveInt();
                    break;
                case "--only":
                    var only = ParseTransport(Value());
                    cli.Transports.RemoveAll(t => t != only);
                    break;
                case "--no-types":
                    cli.SampleTypes = false;
                    break;
                case "--markdown":
                    cli.MarkdownPath = Value();
                    break;
                case "--json":
                    cli.JsonPath = Value();
                    break;
                case "--child":
                    cli.ChildScenario = Value();
                    if (!ScenarioNames.All.Contains(cli.ChildScenario))
                    {
                        throw new ArgumentException($"Unknown scenario '{cli.ChildScenario}'. Valid: {string.Join(", ", ScenarioNames.All)}.");
                    }

                    break;
                case "--transport":
                    cli.ChildTransport = ParseTransport(Value());
                    break;
                case "--help" or "-h":
                    throw new ArgumentException("Measures memory per idle connection and allocations per request, Epoll vs Sockets.");
                default:
                    throw new ArgumentException($"Unknown argument '{args[i]}'.");
            }
        }

        if (cli.ChildScenario is { } s && ScenarioNames.HasTransport(s) != cli.ChildTransport.HasValue)
        {
            throw new ArgumentException($"Scenario {s} {(ScenarioNames.HasTransport(s) ? "needs" : "takes no")} --transport.");
        }

        return cli;
    }

    private static TransportKind ParseTransport(string value) =>
        Enum.TryParse<TransportKind>(value, ignoreCase: true, out var transport) && Enum.IsDefined(transport)
            ? transport
            : throw new ArgumentException($"Unknown transport '{value}'. Valid: Epoll, Sockets.");
}

using System.Net;
using System.Net.Sockets;
using EpollTransport.Interop;
using Xunit.Abstractions;

namespace EpollTransport.Tests.Faults;

/// <summary>
/// Every system call the transport makes, failing with each errno it plausibly fails with (the cases and the
/// reasons for what is left out are in fault-matrix.txt). Each case: the fault really fired; the victim was served,
/// or its connection ended, or the bind was refused, as the table says; the bystander connection is still served;
/// a new connection is accepted; the process's descriptors come back; the loops do not spin; and the transport
/// logged exactly the warnings the table names, and nobody logged an error.
/// </summary>
/// <param name="output">The test output.</param>
[Collection(FaultTestsRunAlone.Name)]
public sealed class FaultMatrixTests(ITestOutputHelper output)
{
    public static TheoryData<string, string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string, string>();
        foreach (var line in File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Faults", "fault-matrix.txt")))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(4, columns.Length);
            data.Add(columns[0], columns[1], columns[2], columns[3]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task TheServerLivesThroughTheFault(string faults, string scenario, string outcome, string warnings)
    {
        await using var server = await FaultServer.StartAsync();
        int baseline = FaultServer.DescriptorCount();
        var plan = Parse(faults);

        int expected = faults.Split('+').Length;
        FaultInjection.Plan = plan;
        string actual = await RunAsync(server, scenario);

        // The server may make the call after the client is done (its close, after the response).
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (plan.InjectedCount < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        FaultInjection.Plan = null;
        output.WriteLine($"{faults} {scenario}: {actual}; injected {plan.InjectedCount}");
        Assert.True(plan.InjectedCount == expected, $"{plan.InjectedCount} of the faults {faults} fired: the scenario never made the call");
        Assert.Equal(outcome, actual);

        Assert.Equal("Hello", await server.AskBystanderAsync());
        Assert.Equal("Served", await RunAsync(server, "request"));
        await FaultServer.AssertDescriptorsReturnAsync(baseline);
        await server.AssertLoopsRestAsync();

        Assert.Equal(warnings == "-" ? [] : warnings.Split(','), server.TransportWarnings());
        Assert.Empty(server.Errors());
    }

    private static FaultPlan Parse(string faults)
    {
        var plan = new FaultPlan();
        foreach (var fault in faults.Split('+'))
        {
            var parts = fault.Split(':', '@');
            plan.Fail(Enum.Parse<Syscall>(parts[0]), Enum.Parse<Errno>(parts[1]), nth: parts.Length > 2 ? int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture) : 1);
        }

        return plan;
    }

    private static async Task<string> RunAsync(FaultServer server, string scenario)
    {
        switch (scenario)
        {
            case "bind":
                return await RefusedAsync(async () => await (await server.Transport.BindAsync(new IPEndPoint(IPAddress.Loopback, 0))).DisposeAsync());

            case "threads":
                using (var other = new EpollTransportFactory(new EpollTransportOptions { ThreadCount = 2 }, server.Logs))
                {
                    return await RefusedAsync(async () => await (await other.BindAsync(new IPEndPoint(IPAddress.Loopback, 0))).DisposeAsync());
                }

            default:
                return await server.RunAsync(scenario) ? "Served" : "Ended";
        }
    }

    private static async Task<string> RefusedAsync(Func<Task> bind)
    {
        try
        {
            await bind();
            return "Bound";
        }
        catch (Exception ex) when (ex is SocketException or IOException)
        {
            return "Refused"; // a SocketException (the listener's calls, so Kestrel can fall back) or an IOException
        }
    }
}

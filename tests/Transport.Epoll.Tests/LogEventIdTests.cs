using System.Net.Sockets;
using System.Reflection;
using EpollTransport.Internal;
using Microsoft.Extensions.Logging;

namespace EpollTransport.Tests;

/// <summary>
/// Event ids are a contract: the events Kestrel's Sockets transport also has carry its ids, so log
/// filters and dashboards made for it keep working; the others never reuse one of those.
/// </summary>
public class LogEventIdTests
{
    // Kestrel's SocketsLog (src/Servers/Kestrel/Transport.Sockets/src/Internal/SocketsLog.cs).
    private static readonly Dictionary<string, int> s_kestrelSockets = new()
    {
        ["ConnectionPause"] = 4,
        ["ConnectionResume"] = 5,
        ["ConnectionReadFin"] = 6,
        ["ConnectionWriteFin"] = 7,
        ["ConnectionWriteRst"] = 8,
        ["ConnectionError"] = 14,
        ["ConnectionReset"] = 19,
    };

    // Ids Kestrel's Sockets transport uses or reserves (3, 11 and 12 for per-read and per-write events).
    private static readonly HashSet<int> s_kestrelSocketsIds = [3, 4, 5, 6, 7, 8, 11, 12, 14, 19];

    [Fact]
    public void SharedEventsHaveKestrelsIdsAndTheOthersCollideWithNothing()
    {
        // Every logging method, whatever its visibility: one the reflection missed would go unchecked.
        var events = typeof(EpollTransportLog).GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            .Select(m => m.GetCustomAttribute<LoggerMessageAttribute>())
            .OfType<LoggerMessageAttribute>()
            .ToList();

        Assert.Contains(events, e => e.EventName == "ConnectionPause");
        Assert.Equal(events.Count, events.Select(e => e.EventId).Distinct().Count());
        Assert.Equal(events.Count, events.Select(e => e.EventName).Distinct().Count());
        foreach (var e in events)
        {
            if (s_kestrelSockets.TryGetValue(e.EventName!, out int id))
            {
                Assert.Equal(id, e.EventId);
            }
            else
            {
                Assert.DoesNotContain(e.EventId, s_kestrelSocketsIds);
                Assert.True(e.EventId >= 100, $"{e.EventName} has id {e.EventId}, below the transport's own range");
            }
        }
    }

    [Fact]
    public async Task AConnectionsLifeLogsKestrelsIds()
    {
        await using var harness = new TransportHarness(o => o.MaxReadBufferSize = 16 * 1024);
        var listener = await harness.BindAsync();

        // Pause, resume, read FIN, write FIN.
        var (client, server) = await harness.ConnectAsync(listener);
        await client.SendAsync(TransportHarness.Pattern(64 * 1024));
        client.Shutdown(SocketShutdown.Send);
        while (true)
        {
            var result = await server.Transport.Input.ReadAsync().AsTask().WaitAsync(TransportHarness.Timeout);
            server.Transport.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }

            await Task.Delay(5);
        }

        await server.DisposeAsync().AsTask().WaitAsync(TransportHarness.Timeout);

        // Reset by the peer.
        var (reset, resetServer) = await harness.ConnectAsync(listener);
        reset.LingerState = new LingerOption(true, 0);
        reset.Close();
        await ((EpollConnection)resetServer).Closed.WaitAsync(TransportHarness.Timeout);

        resetServer.Abort(new Microsoft.AspNetCore.Connections.ConnectionAbortedException("test abort"));
        foreach (var (name, id) in s_kestrelSockets.Where(p => p.Key != "ConnectionError"))
        {
            var entry = harness.Logs.Entries.FirstOrDefault(e => e.EventId.Name == name);
            Assert.True(entry is not null, $"no {name} event was logged");
            Assert.Equal(id, entry.EventId.Id);
            Assert.Equal(LogLevel.Debug, entry.Level);
        }

        Assert.Contains(harness.Logs.Entries, e => e.EventId.Id == 7 && e.Message.Contains("because", StringComparison.Ordinal));
    }
}

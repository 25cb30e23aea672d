using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace EpollTransport.WebHost.Tests.Transport;

/// <summary>
/// Runs the built WebHost as a child process with a low RLIMIT_NOFILE and connects more clients than
/// it has descriptors for: the epoll listener must back off (logging it) without spinning a core, and
/// serve again once clients leave.
/// </summary>
public sealed partial class FileDescriptorExhaustionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task EpollListenerBacksOffWhenOutOfDescriptorsAndRecovers()
    {
        const int DescriptorLimit = 400;
        var output = new StringBuilder();
        var listening = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = StartHostWithDescriptorLimit(DescriptorLimit, output, listening);
        var clients = new List<Socket>();
        try
        {
            int port = await listening.Task.WaitAsync(Timeout);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = Timeout };

            // Warm up first, so every assembly the server needs is loaded (each holds a descriptor).
            Assert.Equal("Hello, World!", await http.GetStringAsync("/plaintext"));
            Assert.Contains("<html", await http.GetStringAsync("/"), StringComparison.OrdinalIgnoreCase);
            http.DefaultRequestHeaders.ConnectionClose = true;

            int open = Directory.GetFiles($"/proc/{process.Id}/fd").Length;
            int toOpen = DescriptorLimit - open + 50; // more clients than the server has descriptors left
            for (int i = 0; i < toOpen; i++)
            {
                var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(client);
                await client.ConnectAsync("127.0.0.1", port).WaitAsync(Timeout); // queued in the backlog at worst
            }

            await WaitForAsync(() => Snapshot(output).Contains("EMFILE", StringComparison.Ordinal), "the server never logged the accept back-off");
            Assert.Matches(@"warn: EpollTransport\[3\]", Snapshot(output));

            // Starved of descriptors, the server must sleep, not spin.
            long before = CpuTicks(process.Id);
            await Task.Delay(1000);
            long used = CpuTicks(process.Id) - before;
            Assert.True(used < 50, $"the server used {used} of 100 clock ticks per second while out of descriptors");

            foreach (var client in clients)
            {
                client.Dispose();
            }

            clients.Clear();

            // Descriptors are free again: new requests are served.
            Assert.Equal("Hello, World!", await http.GetStringAsync("/plaintext"));
            Assert.False(process.HasExited, "the server exited:\n" + Snapshot(output));
            string log = Snapshot(output);
            Assert.False(log.Contains("fail:", StringComparison.Ordinal) || log.Contains("crit:", StringComparison.Ordinal), "the server logged an error:\n" + log);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }

            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync().WaitAsync(Timeout);
        }
    }

    private static Process StartHostWithDescriptorLimit(int limit, StringBuilder output, TaskCompletionSource<int> listening)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "EpollTransport.WebHost.dll");
        var start = new ProcessStartInfo("/bin/sh")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // The limit applies to the child only: the shell lowers it, then becomes dotnet.
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add($"ulimit -n {limit} && exec dotnet \"$@\"");
        start.ArgumentList.Add("sh");
        foreach (var arg in new[]
        {
            dll, "--urls", "http://127.0.0.1:0", "--Transport", "Epoll", "--EpollTransport:ThreadCount", "1",
            "--Logging:LogLevel:Default", "Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime", "Information",
            "--Logging:Console:FormatterName", "simple",
        })
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_gcServer"] = "0";
        var process = new Process { StartInfo = start };
        DataReceivedEventHandler collect = (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (output)
            {
                output.AppendLine(e.Data);
            }

            var match = ListeningLine().Match(e.Data);
            if (match.Success)
            {
                listening.TrySetResult(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        };
        process.OutputDataReceived += collect;
        process.ErrorDataReceived += collect;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static string Snapshot(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static long CpuTicks(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static async Task WaitForAsync(Func<bool> condition, string message)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            await Task.Delay(20);
        }
    }

    [GeneratedRegex(@"Now listening on: http://127\.0\.0\.1:(\d+)")]
    private static partial Regex ListeningLine();
}

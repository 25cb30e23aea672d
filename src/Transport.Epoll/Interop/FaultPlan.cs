namespace EpollTransport.Interop;

/// <summary>
/// The faults a test injects (see <see cref="FaultInjection"/>): for each rule, which calls of one system
/// call fail and with which errno. Calls are counted per rule from the moment the plan is installed, on
/// every thread; a rule with a descriptor filter counts only the calls it matches.
/// </summary>
internal sealed class FaultPlan
{
    private readonly List<Rule> _rules = [];
    private readonly int[] _calls = new int[Enum.GetValues<Syscall>().Length];
    private int _injected;

    /// <summary>How many calls have been made to fail so far.</summary>
    public int InjectedCount => Volatile.Read(ref _injected);

    /// <summary>
    /// Makes calls of <paramref name="call"/> fail with <paramref name="error"/>: the <paramref name="nth"/>
    /// matching call (1 = the next), then every <paramref name="every"/>-th after it (0: no more), at most
    /// <paramref name="times"/> times in all.
    /// </summary>
    /// <param name="call">The system call.</param>
    /// <param name="error">The errno it fails with.</param>
    /// <param name="nth">The first matching call that fails, counting from 1.</param>
    /// <param name="every">After that, every how many calls another fails; 0 for none.</param>
    /// <param name="times">The most failures this rule injects.</param>
    /// <param name="where">Only calls on a descriptor this accepts are counted; <see langword="null"/> for all.</param>
    /// <returns>This plan.</returns>
    public FaultPlan Fail(Syscall call, Errno error, int nth = 1, int every = 0, int times = 1, Func<int, bool>? where = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nth, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(every);
        ArgumentOutOfRangeException.ThrowIfLessThan(times, 1);
        lock (_rules)
        {
            _rules.Add(new Rule(call, error, nth, every, times, where));
        }

        return this;
    }

    /// <summary>How many calls of <paramref name="call"/> this plan has made fail.</summary>
    public int InjectedFor(Syscall call)
    {
        lock (_rules)
        {
            return _rules.Where(r => r.Call == call).Sum(r => r.Injected);
        }
    }

    /// <summary>
    /// How many calls of <paramref name="call"/> the transport made (or was made to fail) while this plan was in force:
    /// the seam sees every one, so a plan with no rules counts system calls.
    /// </summary>
    public int Calls(Syscall call) => Volatile.Read(ref _calls[(int)call]);

    internal bool TryFail(Syscall call, int fd, out PosixResult result)
    {
        Interlocked.Increment(ref _calls[(int)call]);
        Rule[] rules;
        lock (_rules)
        {
            rules = [.. _rules];
        }

        foreach (var rule in rules)
        {
            if (rule.Call == call && (rule.Where is null || rule.Where(fd)) && rule.Take())
            {
                Interlocked.Increment(ref _injected);
                result = PosixResult.FromError(rule.Error);
                return true;
            }
        }

        result = default;
        return false;
    }

    private sealed class Rule(Syscall call, Errno error, int nth, int every, int times, Func<int, bool>? where)
    {
        private int _calls;
        private int _injected;

        public Syscall Call => call;

        public Errno Error => error;

        public Func<int, bool>? Where => where;

        public int Injected => Volatile.Read(ref _injected);

        /// <summary>Counts one matching call; whether it is one to fail.</summary>
        public bool Take()
        {
            int n = Interlocked.Increment(ref _calls);
            bool due = n == nth || (every > 0 && n > nth && (n - nth) % every == 0);
            if (!due)
            {
                return false;
            }

            // At most `times` failures, however many threads race here.
            while (true)
            {
                int done = Volatile.Read(ref _injected);
                if (done >= times)
                {
                    return false;
                }

                if (Interlocked.CompareExchange(ref _injected, done + 1, done) == done)
                {
                    return true;
                }
            }
        }
    }
}

package org.rawdenoise.core;

/** One window along one axis: {@code [start, end)} is what the model sees, {@code [coreStart, coreEnd)} what it owns. */
public final class Span {

    public final int start;
    public final int end;
    public final int coreStart;
    public final int coreEnd;

    public Span(int start, int end, int coreStart, int coreEnd) {
        this.start = start;
        this.end = end;
        this.coreStart = coreStart;
        this.coreEnd = coreEnd;
    }

    public int length() {
        return end - start;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof Span)) {
            return false;
        }
        Span s = (Span) o;
        return start == s.start && end == s.end && coreStart == s.coreStart && coreEnd == s.coreEnd;
    }

    @Override
    public int hashCode() {
        return ((start * 31 + end) * 31 + coreStart) * 31 + coreEnd;
    }

    @Override
    public String toString() {
        return "Span[" + start + "," + end + ") core [" + coreStart + "," + coreEnd + ")";
    }
}

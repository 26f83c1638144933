package org.rawdenoise.core;

/** One window of the padded canvas (packed-plane pixels): model input rows × columns and the core each owns. */
public final class Tile {

    public final Span rows;
    public final Span cols;

    public Tile(Span rows, Span cols) {
        this.rows = rows;
        this.cols = cols;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tile && rows.equals(((Tile) o).rows) && cols.equals(((Tile) o).cols);
    }

    @Override
    public int hashCode() {
        return rows.hashCode() * 31 + cols.hashCode();
    }

    @Override
    public String toString() {
        return "Tile(rows " + rows + ", cols " + cols + ")";
    }
}

package de.bwaldvogel.mongo.backend.h2;

import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.wire.bson.BsonDecoder;
import de.bwaldvogel.mongo.wire.bson.BsonEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * How the local document store (deploy/local/store.sh) writes a collection's documents into its MVStore file: as
 * BSON, the format MongoDB and FerretDB keep them in, instead of the library's default, Java serialisation of its
 * document class. Java serialisation took two thirds of the store's CPU under write loads and about 5 KB per small
 * document.
 *
 * A stored version of a document is its bytes alone: encoded once when it is stored, copied as they are by every
 * commit that rewrites its page, and decoded again at each read. The page cache used to hold every cached document
 * decoded as well, a tree of maps and strings beside its bytes: each commit's new pages survived young collections
 * in their thousands of small objects, and on a store that had taken 700,000 interactions young pauses averaged
 * 104 ms, a fifth of the store's time (docs/store-contract.md).
 */
final class BsonDocuments extends BasicDataType<BsonDocuments.Stored> {
    /** One stored version of a document. The library changes a document it read in place before storing it again
     *  (always through a new `Stored`): each read hands out a document of its own. */
    static final class Stored {
        private final byte[] encoded;

        Stored(Document document) {
            ByteBuf buffer = Unpooled.buffer(512);
            BsonEncoder.encodeDocument(document, buffer);
            this.encoded = new byte[buffer.readableBytes()];
            buffer.readBytes(this.encoded);
        }

        private Stored(byte[] encoded) {
            this.encoded = encoded;
        }

        Document document() {
            return BsonDecoder.decodeBson(Unpooled.wrappedBuffer(encoded));
        }
    }

    @Override
    public int getMemory(Stored stored) {
        return stored.encoded.length + 32;
    }

    @Override
    public void write(WriteBuffer buffer, Stored stored) {
        buffer.put(stored.encoded);
    }

    @Override
    public Stored read(ByteBuffer buffer) {
        int start = buffer.position();
        int size = buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(start);
        byte[] bytes = new byte[size];
        buffer.get(bytes);
        return new Stored(bytes);
    }

    @Override
    public Stored[] createStorage(int size) {
        return new Stored[size];
    }
}

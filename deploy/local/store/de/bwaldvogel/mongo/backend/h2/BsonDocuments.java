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
 * document class. Java serialisation took two thirds of the store's CPU under write loads (every commit writes each
 * changed page whole) and about 5 KB per small document.
 */
final class BsonDocuments extends BasicDataType<Document> {
    /** Pages are split by estimated memory; the estimate follows the encoded sizes seen, as H2's own types do. */
    private volatile int averageSize = 256;

    @Override
    public int getMemory(Document document) {
        return averageSize;
    }

    @Override
    public void write(WriteBuffer buffer, Document document) {
        ByteBuf encoded = Unpooled.buffer(averageSize + 64);
        BsonEncoder.encodeDocument(document, encoded);
        int size = encoded.readableBytes();
        buffer.put(encoded.nioBuffer());
        averageSize = (size + 15 * averageSize) / 16;
    }

    @Override
    public Document read(ByteBuffer buffer) {
        int start = buffer.position();
        int size = buffer.duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(start);
        ByteBuf encoded = Unpooled.wrappedBuffer(buffer.duplicate().position(start).limit(start + size).slice());
        Document document = BsonDecoder.decodeBson(encoded);
        buffer.position(start + size);
        return document;
    }

    @Override
    public Document[] createStorage(int size) {
        return new Document[size];
    }
}

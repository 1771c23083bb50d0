UPDATE customers SET tier = 'gold'
WHERE id IN (SELECT customer_id FROM orders GROUP BY customer_id HAVING count(*) > 15);
